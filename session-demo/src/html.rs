//! The pages' frame and HTML escaping.

use axum::response::Html;

/// `text` with HTML's five special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (text) and `body` (HTML, already escaped), with the menu and
/// the store's label.
pub fn page(title: &str, body: &str, store: &str) -> Html<String> {
    let title = escape(title);
    let store = escape(store);
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · session demo</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
nav a {{ margin-right: 1rem; }}
pre {{ background: #f4f4f4; padding: .75rem; overflow-x: auto; }}
form {{ margin: 1rem 0; }}
footer {{ margin-top: 3rem; color: #666; font-size: .9rem; }}
</style>
</head>
<body>
<nav><a href="/">Home</a><a href="/login">Log in</a><a href="/session">Session</a></nav>
<h1>{title}</h1>
{body}
<footer>Sessions kept in {store}.</footer>
</body>
</html>
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_the_five_special_characters() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#x27;Jerry&#x27;&lt;/a&gt;"
        );
    }
}
