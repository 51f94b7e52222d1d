"""A local stand-in for an Amazon Cognito user pool's hosted UI and OAuth 2.0 endpoints, for
tests and local development of the `sign-in` block. It is NOT Cognito: moto (5.2.5) has a
Cognito user pool but no hosted UI and no `/oauth2/*` endpoints, so this server follows Cognito's
documented contract for them on top of moto's pool:

- `GET /oauth2/authorize` (response_type=code, client_id, redirect_uri, state, nonce, PKCE
  code_challenge with S256): a sign-in form, or straight back with a code when the browser
  already has a session here (as the hosted UI does);
- `POST /oauth2/token`: `authorization_code` (single use, five minutes, redirect_uri and PKCE
  verifier checked) and `refresh_token`, answering Cognito's JSON (`invalid_grant` and friends
  with 400);
- `GET /logout` (client_id, logout_uri): ends the session here, back to the site;
- `GET /.well-known/jwks.json`: the pool's public keys.

Users, passwords, groups and refresh tokens are moto's (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH),
and so is the signing key (moto ships it: never trust it outside tests). moto always issues
one-hour tokens for its own pool id and client id, so the ID token is signed again with moto's
key for the pool and client the site declares, with the life given here (`--id-token-seconds`,
short in the browser test, so that it expires) and the sign-in's nonce.

Run with the moto venv's Python (scripts/test makes it): `python scripts/cognito_stand_in.py`.
"""

import argparse
import base64
import hashlib
import html
import http.server
import json
import secrets
import threading
import time
import urllib.parse

import boto3
from joserfc import jwk, jwt
from moto import mock_aws
from moto.utilities.utils import load_resource

PASSWORD_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in (local stand-in for Cognito)</title></head>
<body><h1>Sign in</h1><p>Local stand-in for the user pool's hosted UI.</p>{error}
<form method="post" action="/login">{hidden}
<label>Email <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>"""


class Pool:
    """moto's user pool, client and users, and what the hosted UI keeps: codes and sessions."""

    def __init__(self, args):
        self.args = args
        self.idp = boto3.client("cognito-idp", region_name=args.region,
                                aws_access_key_id="test", aws_secret_access_key="test")
        self.moto_pool = self.idp.create_user_pool(PoolName=args.pool_id)["UserPool"]["Id"]
        self.moto_client = self.idp.create_user_pool_client(
            UserPoolId=self.moto_pool, ClientName="stand-in",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        for group in {g for user in args.user for g in user[2:]}:
            self.idp.create_group(UserPoolId=self.moto_pool, GroupName=group)
        for name, password, *groups in args.user:
            self.idp.admin_create_user(UserPoolId=self.moto_pool, Username=name,
                                       UserAttributes=[{"Name": "email", "Value": name}],
                                       MessageAction="SUPPRESS")
            self.idp.admin_set_user_password(UserPoolId=self.moto_pool, Username=name,
                                             Password=password, Permanent=True)
            for group in groups:
                self.idp.admin_add_user_to_group(UserPoolId=self.moto_pool, Username=name,
                                                 GroupName=group)
        self.key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
        self.public = load_resource("cognitoidp/resources/jwks-public.json")
        self.codes = {}
        self.sessions = {}
        self.lock = threading.Lock()

    def sign_in(self, username, password):
        """moto's tokens for a user and password, or None."""
        try:
            return self.idp.initiate_auth(
                ClientId=self.moto_client, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )["AuthenticationResult"]
        except self.idp.exceptions.NotAuthorizedException:
            return None
        except self.idp.exceptions.UserNotFoundException:
            return None

    def refresh(self, refresh_token):
        try:
            result = self.idp.initiate_auth(
                ClientId=self.moto_client, AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )["AuthenticationResult"]
        except self.idp.exceptions.NotAuthorizedException:
            return None
        return result

    def id_token(self, moto_id_token, nonce=None):
        """moto's ID token's claims, for the declared pool and client, with this server's life."""
        claims = jwt.decode(moto_id_token, self.key).claims
        now = int(time.time())
        claims.update({
            "iss": f"https://cognito-idp.{self.args.region}.amazonaws.com/{self.args.pool_id}",
            "aud": self.args.client_id, "iat": now, "auth_time": now,
            "exp": now + self.args.id_token_seconds,
        })
        claims.pop("nonce", None)
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, self.key)


def redirect_allowed(url, allowed):
    """An exact registered URL, or one whose port is `*` (serve picks a free port)."""
    for pattern in allowed:
        if url == pattern:
            return True
        if ":*" in pattern:
            head, tail = pattern.split(":*", 1)
            if url.startswith(head + ":") and url.endswith(tail):
                port = url[len(head) + 1:len(url) - len(tail)]
                if port.isdigit():
                    return True
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    pool: Pool

    def log_message(self, fmt, *args):
        if not self.pool.args.quiet:
            super().log_message(fmt, *args)

    def send(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def oauth_error(self, error, status=400):
        self.send(status, json.dumps({"error": error}).encode(), "application/json")

    def session(self):
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "stand-in-session":
                with self.pool.lock:
                    return self.pool.sessions.get(value), value
        return None, None

    def form(self):
        length = int(self.headers.get("Content-Length", "0"))
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

    def query(self):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

    def authorize_request(self, params):
        """The checked authorize parameters, or an error text."""
        args = self.pool.args
        if params.get("client_id") != args.client_id:
            return "unknown client_id"
        if not redirect_allowed(params.get("redirect_uri", ""), args.callback_url):
            return "redirect_uri is not a callback URL of this client"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        if "openid" not in params.get("scope", "").split():
            return "the scope must include openid"
        return None

    def back_with_code(self, params, tokens, session_id=None):
        code = secrets.token_urlsafe(24)
        with self.pool.lock:
            self.pool.codes[code] = dict(params, tokens=tokens, issued=time.time())
        query = urllib.parse.urlencode({"code": code, "state": params.get("state", "")})
        headers = [("Location", f"{params['redirect_uri']}?{query}")]
        if session_id:
            headers.append(("Set-Cookie", f"stand-in-session={session_id}; Path=/; HttpOnly; SameSite=Lax"))
        self.send(302, headers=headers)

    def login_form(self, params, error=""):
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items())
        error = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        body = PASSWORD_FORM.format(hidden=hidden, error=error).encode()
        self.send(200, body, "text/html; charset=utf-8")

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        params = self.query()
        if path == "/favicon.ico":
            self.send(204)
        elif path == "/.well-known/jwks.json":
            self.send(200, json.dumps(self.pool.public).encode(), "application/json")
        elif path == "/oauth2/authorize":
            problem = self.authorize_request(params)
            if problem:
                return self.send(400, problem.encode())
            session, _ = self.session()
            if session:
                tokens = self.pool.refresh(session["refresh"])
                if tokens:
                    tokens["RefreshToken"] = session["refresh"]
                    return self.back_with_code(params, tokens)
            self.login_form(params)
        elif path == "/logout":
            if params.get("client_id") != self.pool.args.client_id:
                return self.send(400, b"unknown client_id")
            target = params.get("logout_uri", "")
            if not redirect_allowed(target, self.pool.args.sign_out_url):
                return self.send(400, b"logout_uri is not a sign-out URL of this client")
            _, session_id = self.session()
            with self.pool.lock:
                self.pool.sessions.pop(session_id, None)
            self.send(302, headers=[
                ("Location", target),
                ("Set-Cookie", "stand-in-session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")])
        else:
            self.send(404, b"not found")

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        form = self.form()
        if path == "/login":
            params = {k: v for k, v in form.items() if k not in ("username", "password")}
            problem = self.authorize_request(params)
            if problem:
                return self.send(400, problem.encode())
            tokens = self.pool.sign_in(form.get("username", ""), form.get("password", ""))
            if not tokens:
                return self.login_form(params, "Incorrect username or password.")
            session_id = secrets.token_urlsafe(24)
            with self.pool.lock:
                self.pool.sessions[session_id] = {"refresh": tokens["RefreshToken"]}
            self.back_with_code(params, tokens, session_id)
        elif path == "/oauth2/token":
            if self.pool.args.fail_token_with:
                return self.oauth_error("unavailable", self.pool.args.fail_token_with)
            self.token(form)
        else:
            self.send(404, b"not found")

    def token(self, form):
        args = self.pool.args
        if form.get("client_id") != args.client_id:
            return self.oauth_error("invalid_client", 401)
        if args.client_secret:
            # A confidential client authenticates with HTTP Basic (client id and secret).
            pair = f"{args.client_id}:{args.client_secret}".encode()
            expected = "Basic " + base64.b64encode(pair).decode()
            if self.headers.get("Authorization") != expected:
                return self.oauth_error("invalid_client", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.pool.lock:
                issued = self.pool.codes.pop(form.get("code", ""), None)
            if not issued or time.time() - issued["issued"] > 300:
                return self.oauth_error("invalid_grant")
            if form.get("redirect_uri") != issued["redirect_uri"]:
                return self.oauth_error("invalid_grant")
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != issued["code_challenge"]:
                return self.oauth_error("invalid_grant")
            tokens = issued["tokens"]
            body = {"id_token": self.pool.id_token(tokens["IdToken"], issued.get("nonce")),
                    "access_token": tokens["AccessToken"],
                    "refresh_token": tokens["RefreshToken"],
                    "expires_in": args.id_token_seconds, "token_type": "Bearer"}
        elif grant == "refresh_token":
            tokens = self.pool.refresh(form.get("refresh_token", ""))
            if not tokens:
                return self.oauth_error("invalid_grant")
            body = {"id_token": self.pool.id_token(tokens["IdToken"]),
                    "access_token": tokens["AccessToken"],
                    "expires_in": args.id_token_seconds, "token_type": "Bearer"}
        else:
            return self.oauth_error("unsupported_grant_type")
        self.send(200, json.dumps(body).encode(), "application/json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--pool-id", default="us-east-1_NorthwindDocs",
                        help="the user pool id the site declares (the tokens' issuer)")
    parser.add_argument("--client-id", default="northwinddocsmembers",
                        help="the app client id the site declares (the ID token's audience)")
    parser.add_argument("--callback-url", action="append",
                        default=["https://localhost:*/auth/callback"],
                        help="an allowed redirect_uri; a port of * allows any port")
    parser.add_argument("--sign-out-url", action="append", default=["https://localhost:*/"],
                        help="an allowed logout_uri; a port of * allows any port")
    parser.add_argument("--user", nargs="+", action="append", metavar=("EMAIL PASSWORD", "GROUP"),
                        help="a user: email, password, then its groups")
    parser.add_argument("--client-secret", default="",
                        help="the app client has this secret: the token endpoint requires it")
    parser.add_argument("--id-token-seconds", type=int, default=3600)
    parser.add_argument("--fail-token-with", type=int, default=0,
                        help="answer every token request with this status (an outage)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if not args.user:
        args.user = [["reader@example.com", "Members-Only-1", "members"],
                     ["visitor@example.com", "Visitors-Only-1"]]
    with mock_aws():
        Handler.pool = Pool(args)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
        print(f"Cognito stand-in at http://127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
