//! wallet-auth: wallet-signature authentication (EIP-4361 and Sign In With Solana) with
//! server-side wallet sessions.

pub mod cli_verify;
pub mod store;
pub mod verify;
