/** The unsubscribe page, in French and English (the link does not say the user's language). */
export function unsubscribePage(state: 'confirm' | 'done'): string {
  const body =
    state === 'confirm'
      ? `<h1>Ne plus recevoir les emails de Notofine ? <span lang="en">Stop Notofine emails?</span></h1>
  <p>Les avis importants sur vos contraventions continueront d'arriver. <span lang="en">Important notices about your fines will still come.</span></p>
  <form method="post"><button type="submit">Me désabonner / Unsubscribe</button></form>`
      : `<h1>C'est fait. <span lang="en">Done.</span></h1>
  <p>Vous ne recevrez plus nos emails, sauf les avis importants. <span lang="en">You will get no more emails from us, except important notices.</span></p>`;
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Notofine</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; color: #111; }
  h1 { font-size: 1.3rem; } span[lang] { display: block; color: #555; font-weight: normal; }
  button { padding: .6rem 1rem; background: #1d4ed8; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
</style>
</head>
<body>
  ${body}
</body>
</html>
`;
}
