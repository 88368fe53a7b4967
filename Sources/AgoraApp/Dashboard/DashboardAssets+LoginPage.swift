extension DashboardAssets {
    /// The sign-in form, posted to `/login`. The server replaces `{{message}}` with an
    /// HTML-escaped reason the last attempt failed, or with nothing on first view.
    static let loginPage = page(title: "Agora gateway — sign in", body: #"""
    <body class="signin">
    <main class="signin-box">
    <h1>Agora gateway</h1>
    <p class="muted">Sign in with your gateway account.</p>
    <p id="message" class="message" role="alert">{{message}}</p>
    <form method="post" action="/login">
    <label for="account">Account</label>
    <input id="account" name="account" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button id="login" type="submit" class="primary">Sign in</button>
    </form>
    </main>
    </body>
    </html>
    """#)
}
