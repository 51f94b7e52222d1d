// Alien Cards: Like buttons. Plain ES2017, no dependencies.
'use strict';
(function () {
  function showError(button, text) {
    let box = button.parentNode.querySelector('.like-error');
    if (!box) {
      box = document.createElement('span');
      box.className = 'like-error';
      box.setAttribute('role', 'status');
      button.insertAdjacentElement('afterend', box);
    }
    box.textContent = text;
  }

  function clearError(button) {
    const box = button.parentNode.querySelector('.like-error');
    if (box) box.textContent = '';
  }

  async function like(button) {
    const id = button.getAttribute('data-card-id');
    if (!id || button.disabled) return;
    button.disabled = true;
    clearError(button);
    let message = 'Your like got lost in space. Please try again.';
    try {
      const res = await fetch('/api/like?id=' + encodeURIComponent(id), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'accept': 'application/json' }
      });
      if (res.status === 429) message = 'Easy there! Too many likes, try again soon.';
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const data = await res.json();
      if (!data || typeof data.likes !== 'number') throw new Error('bad response');
      document.querySelectorAll('.likes-count').forEach(function (el) {
        if (el.getAttribute('data-card-id') === id) el.textContent = String(data.likes);
      });
      button.textContent = '♥ Liked';
    } catch (err) {
      button.disabled = false;
      showError(button, message);
    }
  }

  function init() {
    document.querySelectorAll('button.like').forEach(function (button) {
      if (button.disabled) return;
      button.addEventListener('click', function () { like(button); });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
