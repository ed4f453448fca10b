// The page never sees the tokens: they live in HttpOnly cookies that the
// browser sends with these same-origin requests by itself (the refresh token
// only to POST /refresh).

const $ = (id) => document.getElementById(id);

async function post(url, data) {
    return fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(data),
    });
}

// Silent refresh: one POST /refresh at a time, whoever asks. Two at once would
// present the same refresh token twice, which the database takes for a stolen
// copy (reuse) and ends the session.
let refreshing = null;
function refresh() {
    refreshing ??= post('/refresh', {}).then((res) => res.ok).finally(() => { refreshing = null; });
    return refreshing;
}
// A request; on 401 (the 5-minute access token expired), refresh and try once more.
async function withRefresh(request) {
    const res = await request();
    return res.status === 401 && await refresh() ? request() : res;
}

// Show the notes if the cookie's token is accepted (after a silent refresh if
// need be), the login form otherwise. (The page changes in one go, after the
// last await.)
async function show() {
    const res = await withRefresh(() => fetch('/api/notes'));
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
    const body = new FormData(event.target).get('body');
    await withRefresh(() => post('/api/notes', { body }));
    event.target.reset();
    await show();
});

$('logout').addEventListener('click', async () => {
    const res = await withRefresh(() => post('/logout', {}));
    await show();
    if (!res.ok && res.status !== 401) $('status').textContent = 'Logout failed: still logged in.';
});

show();
