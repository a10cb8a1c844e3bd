//! Black-box API tests over a real socket, most run on every store backend
//! ([`crate::on_every_backend!`]).

mod accounts;
mod accounts_upgrade;
mod audit;
mod audit_stored;
mod binding;
mod contract_wallets;
mod demo;
mod errors;
mod hardening;
mod legacy;
mod openapi;
mod ops;
mod origin;
mod postgres_only;
mod redis_only;
mod roles;
mod sessions;
mod signin;
mod signin_faults;
mod tokens;
