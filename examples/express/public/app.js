// The page never sees the token: it lives in an HttpOnly cookie that the
// browser sends with these same-origin requests by itself.

const $ = (id) => document.getElementById(id);

async function post(url, data) {
    return fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(data),
    });
}

// Show the notes if the cookie's token is accepted, the login form otherwise.
// (The page changes in one go, after the last await.)
async function show() {
    const res = await fetch('/api/notes');
    const { user, notes } = res.ok ? await res.json() : { user: '', notes: [] };
    $('login').hidden = res.ok;
    $('notes').hidden = !res.ok;
    $('status').textContent = res.ok ? '' : 'Logged out.';
    $('user').textContent = user;
    $('list').replaceChildren(...notes.map((note) => {
        const li = document.createElement('li');
        li.textContent = note.body;   // text, never HTML
        return li;
    }));
}

$('login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const res = await post('/login', { username: form.get('username'), password: form.get('password') });
    $('login-error').textContent = res.ok ? ''
        : res.status === 429 ? 'Too many failed attempts: try again later.' : 'Wrong username or password.';
    if (res.ok) event.target.reset();
    await show();
});

$('add').addEventListener('submit', async (event) => {
    event.preventDefault();
    await post('/api/notes', { body: new FormData(event.target).get('body') });
    event.target.reset();
    await show();
});

$('logout').addEventListener('click', async () => {
    const res = await post('/logout', {});
    await show();
    if (!res.ok && res.status !== 401) $('status').textContent = 'Logout failed: still logged in.';
});

show();
