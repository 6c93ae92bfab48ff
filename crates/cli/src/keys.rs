//! `talon keys`: the Ed25519 keys that sign access tokens.

use clap::Subcommand;
use talon_auth::{Clock, SigningKey, SystemClock, TOKEN_LIFETIME_SECS};

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
    /// List the keys, newest first, with what each does: signs, verifies, or is retired.
    List,
    /// Add a new key: it signs every new token from the servers' next refresh on (within a second); older
    /// keys keep verifying the tokens they signed, and stay in the JWKS.
    Rotate,
    /// Retire a key: it signs no more at once, and the tokens it signed are refused (and it leaves the
    /// JWKS) once the grace period is over. Retiring the key that signs adds a new key first.
    Retire {
        /// The key's ID (`kid`, as `talon keys list` shows it).
        kid: String,
        /// Refuse the key's tokens at once (within a second on every server), not after the grace period.
        #[arg(long, conflicts_with = "grace")]
        now: bool,
        /// Seconds the key's tokens stay valid; by default a token's lifetime, so none is cut short.
        #[arg(long, default_value_t = TOKEN_LIFETIME_SECS as u64)]
        grace: u64,
    },
}

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let store = args.database.open().await?;
    let now = SystemClock.now();
    match args.command {
        KeysCommand::List => {
            let mut keys = store.signing_keys().await?;
            keys.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.kid.clone())));
            let signer = keys.iter().find(|k| k.signs()).map(|k| k.kid.clone());
            println!("{:<16}  {:<10}  {:<22}  PUBLIC KEY (JWK x)", "KID", "CREATED", "STATE");
            for k in &keys {
                let state = match k.retired_at {
                    None if Some(&k.kid) == signer.as_ref() => "signs".to_owned(),
                    None => "verifies".to_owned(),
                    Some(at) if now < at => format!("retiring at {at}"),
                    Some(at) => format!("retired at {at}"),
                };
                println!("{:<16}  {:<10}  {state:<22}  {}", k.kid, k.created_at, k.public_x());
            }
        }
        KeysCommand::Rotate => {
            let key = SigningKey::next_after(&store.signing_keys().await?, now);
            store.add_signing_key(&key).await?;
            println!("added signing key {}; servers sign with it within a second", key.kid);
        }
        KeysCommand::Retire { kid, now: at_once, grace } => {
            let keys = store.signing_keys().await?;
            let Some(key) = keys.iter().find(|k| k.kid == kid) else {
                anyhow::bail!("no signing key has the ID {kid:?} (see `talon keys list`)");
            };
            // The servers must always have a key that signs: a new one comes first, so no node is left
            // without one between the two writes.
            if key.signs() && !keys.iter().any(|k| k.signs() && k.kid != kid) {
                let fresh = SigningKey::next_after(&keys, now);
                store.add_signing_key(&fresh).await?;
                println!("added signing key {}: it signs in place of {kid}", fresh.kid);
            }
            let at = if at_once { now } else { now.saturating_add(i64::try_from(grace).unwrap_or(i64::MAX)) };
            store.retire_signing_key(&kid, at).await?;
            let retired_at = store.signing_keys().await?.into_iter().find(|k| k.kid == kid).and_then(|k| k.retired_at);
            match retired_at {
                Some(at) if at <= now => println!("retired signing key {kid}: the tokens it signed are refused now"),
                Some(at) => println!(
                    "retired signing key {kid}: it signs no more; the tokens it signed are refused from {at} (in {} s)",
                    at - now
                ),
                None => anyhow::bail!("signing key {kid} was not retired (was it deleted meanwhile?)"),
            }
        }
    }
    Ok(())
}
