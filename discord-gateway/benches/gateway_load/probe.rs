//! The latency probe: the send and publish times the load server writes
//! into each MESSAGE_CREATE (`"nonce":"<ns>"` and `"published":"<ns>"`),
//! found without decoding the frame. It runs once per delivery, so it is
//! kept to two SIMD substring searches and two digit scans: the tool
//! shares the machine with the server it measures.

use std::sync::LazyLock;

use memchr::memmem::Finder;

static NONCE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""nonce":""#));
static PUBLISHED: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(br#""published":""#));

/// The send time and, if present, the publish time in a frame's text;
/// `None` if it has no nonce (not a probe message).
pub(crate) fn times(text: &[u8]) -> Option<(u128, Option<u128>)> {
    let at = NONCE.find(text)? + NONCE.needle().len();
    let sent = digits(&text[at..]);
    // The server's fields are in key order: `published` follows `nonce`.
    let published = PUBLISHED
        .find(&text[at..])
        .map(|i| digits(&text[at + i + PUBLISHED.needle().len()..]));
    Some((sent, published))
}

/// The decimal number at the start of `text`, up to its closing quote.
fn digits(text: &[u8]) -> u128 {
    let end = memchr::memchr(b'"', text).expect("a closing quote");
    let number = &text[..end];
    assert!(
        !number.is_empty() && number.iter().all(u8::is_ascii_digit),
        "a time in ns"
    );
    number.iter().fold(0, |n, d| n * 10 + u128::from(d - b'0'))
}
