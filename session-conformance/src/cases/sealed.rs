//! S4: encrypted (sealed) cookies, for stores whose key is the data sealed with an
//! AEAD. Nothing here depends on the token's layout beyond "printable text".

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::ensure;
use crate::fixtures::COOKIE_AGE;
use crate::runner::{CaseResult, Ctx};

/// A value the cookie must not reveal, in any encoding the kit can think of.
const MARKER: &str = "s4-plaintext-marker-7f3a";

/// Every decoding of `token` the kit tries: the token itself and the base64
/// (standard, URL-safe, padded or not) of each piece between `.` and `:`.
fn decodings(token: &str) -> Vec<Vec<u8>> {
    let mut out = vec![token.as_bytes().to_vec()];
    for piece in token.split(['.', ':']) {
        for engine in [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(piece) {
                out.push(bytes);
            }
        }
    }
    out
}

async fn sealed_token(ctx: &Ctx) -> session_api::Result<String> {
    let s = ctx.session(None);
    s.aset("secret", &MARKER).await?;
    s.asave().await?;
    Ok(s.session_key()
        .map(|k| k.as_str().to_owned())
        .unwrap_or_default())
}

/// S4: the cookie holds neither the data nor the key names, in clear or base64.
pub async fn sealed_cookie_reveals_nothing(ctx: Ctx) -> CaseResult {
    let token = sealed_token(&ctx).await?;
    ensure!(!token.is_empty(), "the save gave no cookie");
    for bytes in decodings(&token) {
        let text = String::from_utf8_lossy(&bytes);
        ensure!(
            !text.contains(MARKER) && !text.contains("secret") && !text.contains("{\""),
            "the cookie reveals the data: {text:?}"
        );
    }
    let back = ctx.session(Some(&token));
    ensure!(
        back.aget::<String>("secret").await?.as_deref() == Some(MARKER),
        "the sealed cookie did not load"
    );
    Ok(())
}

/// S4: two saves of the same data seal with different nonces, and both load.
pub async fn sealed_cookie_is_new_on_every_save(ctx: Ctx) -> CaseResult {
    let first = sealed_token(&ctx).await?;
    let second = sealed_token(&ctx).await?;
    ensure!(
        first != second,
        "the same data sealed twice gave one cookie"
    );
    for token in [&first, &second] {
        let s = ctx.session(Some(token));
        ensure!(
            s.aget::<String>("secret").await?.as_deref() == Some(MARKER),
            "a sealed cookie did not load"
        );
    }
    Ok(())
}

/// A character of the base64 alphabets other than `c`.
fn other_char(c: char) -> char {
    if c == 'A' {
        'B'
    } else {
        'A'
    }
}

/// S4, F5: a token changed anywhere (each character in turn), truncated, extended
/// or carrying another key id loads as an empty session, and its key is dropped.
pub async fn sealed_tampered_cookie_loads_empty(ctx: Ctx) -> CaseResult {
    let token = sealed_token(&ctx).await?;
    let mut bad: Vec<String> = (0..token.len())
        .filter(|&i| token.is_char_boundary(i) && token.is_char_boundary(i + 1))
        .map(|i| {
            let c = token[i..].chars().next().unwrap_or('A');
            format!("{}{}{}", &token[..i], other_char(c), &token[i + 1..])
        })
        .collect();
    bad.push(token[..token.len() - 1].to_owned());
    bad.push(token[..token.len() / 2].to_owned());
    bad.push(format!("{token}A"));
    if let Some((_, body)) = token.split_once('.') {
        bad.push(format!("zz9.{body}"));
        bad.push(body.to_owned());
    }
    for value in &bad {
        let s = ctx.session(Some(value));
        ensure!(s.akeys().await?.is_empty(), "{value:?} loaded data");
        ensure!(s.session_key().is_none(), "{value:?} kept as key");
    }
    Ok(())
}

/// S4, F4: a sealed cookie loads up to the cookie age after its sealing, and not a
/// second later, whatever the data says.
pub async fn sealed_cookie_expires_at_cookie_age(ctx: Ctx) -> CaseResult {
    let token = sealed_token(&ctx).await?;
    ctx.advance(COOKIE_AGE);
    let at_limit = ctx.session(Some(&token));
    ensure!(
        at_limit.aget::<String>("secret").await?.is_some(),
        "the cookie expired before the cookie age"
    );
    ctx.advance(1);
    let late = ctx.session(Some(&token));
    ensure!(
        late.akeys().await?.is_empty(),
        "the cookie loaded after the cookie age"
    );
    Ok(())
}
