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

/// The decimal number at the start of `text`, up to its closing quote: a
/// time in nanoseconds, which fits a `u64` (folded in one pass: with a
/// `u128` and a separate check of the digits, this had been a tenth of the
/// tool's CPU at 1 M deliveries/s).
fn digits(text: &[u8]) -> u128 {
    let mut n = 0u64;
    for (i, &d) in text.iter().enumerate() {
        let digit = d.wrapping_sub(b'0');
        if digit > 9 {
            assert!(d == b'"' && i > 0, "a time in ns");
            return u128::from(n);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(digit)))
            .expect("a time in ns within u64");
    }
    panic!("a closing quote")
}
