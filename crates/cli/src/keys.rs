//! `talon keys`: the Ed25519 keys that sign access tokens.

use clap::Subcommand;
use talon_auth::{Clock, SigningKey, SystemClock};

use crate::DatabaseArg;

#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(flatten)]
    database: DatabaseArg,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the keys, newest (the one that signs) first.
    List,
    /// Add a new key: it signs every new token from the servers' next refresh on (within a second); older
    /// keys keep verifying the tokens they signed, and stay in the JWKS.
    Rotate,
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let store = args.database.open().await?;
    match args.command {
        KeysCommand::List => {
            let mut keys = store.signing_keys().await?;
            keys.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.kid.clone())));
            println!("{:<16}  {:<10}  PUBLIC KEY (JWK x)", "KID", "CREATED");
            for (i, k) in keys.iter().enumerate() {
                let role = if i == 0 { " (signs)" } else { "" };
                println!("{:<16}  {:<10}  {}{role}", k.kid, k.created_at, k.public_x());
            }
        }
        KeysCommand::Rotate => {
            let key = SigningKey::next_after(&store.signing_keys().await?, SystemClock.now());
            store.add_signing_key(&key).await?;
            println!("added signing key {}; servers sign with it within a second", key.kid);
        }
    }
    Ok(())
}
