//! SIWS parsing never panics, and whatever it accepts formats back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_auth::verify::{parse_message, Chain};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = parse_message(Chain::Solana, text) {
        assert_eq!(message.to_text(), text, "accepted text must format back exactly");
        assert_eq!(parse_message(Chain::Solana, &message.to_text()).ok(), Some(message));
    }
});
