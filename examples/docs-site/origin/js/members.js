// The members' notes, from the members' API: signed in, it answers JSON; otherwise 401 with
// JSON (never a redirect), which this page shows as a sign-in link.
document.addEventListener('DOMContentLoaded', async () => {
  const list = document.querySelector('[data-notes]');
  const answer = await fetch('/members/api/notes.json', { headers: { Accept: 'application/json' } });
  const body = await answer.json();
  if (answer.status === 401) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = body.sign_in + '?u=' + encodeURIComponent(location.pathname);
    link.textContent = 'Sign in to read the notes';
    item.append(link);
    list.append(item);
    return;
  }
  for (const note of body.notes) {
    const item = document.createElement('li');
    item.textContent = `${note.date}: ${note.title}`;
    list.append(item);
  }
  list.dataset.loaded = 'true';
});
