/// The web console's pages, script and style sheet, compiled into the binary.
///
/// They are Swift literals rather than resource files because the gateway ships as one static
/// binary: there is no Foundation `Bundle` to find resources in, and no CDN or front-end build
/// step to depend on. The pages hold no inline script or style, so they run under the
/// server's Content-Security-Policy (`default-src 'self'`); the script puts every value from
/// the API into the page as text, never as HTML.
///
/// One file per asset: `DashboardAssets+LoginPage.swift`, `+DashboardPage.swift`,
/// `+Script.swift`, `+Style.swift`.
enum DashboardAssets {
    /// A page of the console: the `<head>` every page shares (title, no favicon request,
    /// the style sheet, `extraHead` such as the script), then `body` (from `<body>` on).
    static func page(title: String, extraHead: String = "", body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/dashboard.css">
        \(extraHead.isEmpty ? "" : extraHead + "\n")</head>
        \(body)
        """
    }
}
