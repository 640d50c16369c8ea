/** The operators' login form; `error` is one of this module's own sentences, never user input. */
export function loginPage(error?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Notofine — operators</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f5f7; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  form { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; width: 22rem; }
  h1 { font-size: 1.2rem; margin-top: 0; }
  label, input, button { display: block; width: 100%; box-sizing: border-box; }
  input { margin: .4rem 0 1rem; padding: .5rem; font-family: monospace; }
  button { padding: .6rem; background: #1d4ed8; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
  .error { color: #b91c1c; }
</style>
</head>
<body>
<form method="post" action="/admin/login">
  <h1>Notofine queues</h1>
  ${error ? `<p class="error" role="alert">${error}</p>` : ''}
  <label for="api_key">Admin API key</label>
  <input id="api_key" name="api_key" type="password" autocomplete="current-password" required placeholder="nfk_…">
  <button type="submit">Log in</button>
</form>
</body>
</html>
`;
}

/**
 * The page the board's "Log out" link opens (a link can only GET, and a GET changes nothing): one
 * button that posts the logout from this very page, so that it passes the same-origin check.
 */
export function logoutPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Notofine — log out</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f5f7; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  form { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; width: 22rem; }
  h1 { font-size: 1.2rem; margin-top: 0; }
  button { display: block; width: 100%; padding: .6rem; background: #1d4ed8; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
  a { display: block; margin-top: 1rem; text-align: center; color: #1d4ed8; }
</style>
</head>
<body>
<form method="post" action="/admin/logout">
  <h1>Log out of Notofine queues</h1>
  <p>Your session ends on every server at once.</p>
  <button type="submit">Log out</button>
  <a href="/admin/queues">Back to the queues</a>
</form>
</body>
</html>
`;
}
