//! Client IDs and customer IDs (CIDs): 32 lowercase hex characters, as on the real API.

use std::fmt;

use rand::RngCore;
use talon_wire::ids::is_hex32;

/// An identifier that is not 32 lowercase hex characters. Does not echo the input (it may be a secret
/// pasted into the wrong field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 32 lowercase hex characters")]
pub struct IdError {
    pub kind: &'static str,
}

macro_rules! hex32_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates a wire value.
            pub fn parse(s: &str) -> Result<$name, IdError> {
                if is_hex32(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(IdError { kind: $kind })
                }
            }

            /// A fresh random ID from the OS CSPRNG.
            pub fn generate() -> $name {
                let mut bytes = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                $name(hex::encode(bytes))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

hex32_id!(
    /// The public identifier of an API client.
    ClientId,
    "client ID"
);
hex32_id!(
    /// A customer ID (CID): the tenant a client belongs to, or a child customer an MSSP client acts for.
    CustomerId,
    "customer ID (CID)"
);

impl CustomerId {
    /// Also accepts a CID as the Falcon console shows it: uppercase, with a `-NN` checksum suffix.
    pub fn parse_lenient(raw: &str) -> Result<CustomerId, IdError> {
        let lower = raw.trim().to_ascii_lowercase();
        let bare = match lower.split_once('-') {
            // The console's checksum: two hex digits (anything else is not a CID).
            Some((cid, checksum)) if checksum.len() == 2 && checksum.bytes().all(|b| b.is_ascii_hexdigit()) => cid,
            _ => lower.as_str(),
        };
        CustomerId::parse(bare)
    }

    /// The two-hex-digit checksum of the CID as installers take it: Talon's own (the first byte of the
    /// CID's SHA-256, uppercase), stable per CID. `parse_lenient` takes any two hex digits.
    pub fn checksum(&self) -> String {
        use sha2::Digest;
        format!("{:02X}", sha2::Sha256::digest(self.0.as_bytes())[0])
    }

    /// The CID with its checksum as sensor installers take it (`GetSensorInstallersCCIDByQuery`):
    /// uppercase, `-` and the checksum.
    pub fn ccid(&self) -> String {
        format!("{}-{}", self.0.to_ascii_uppercase(), self.checksum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ccid_reads_back_as_its_cid_and_its_checksum_is_two_hex_digits() {
        let cid = CustomerId::generate();
        let ccid = cid.ccid();
        assert_eq!(ccid.len(), 35);
        assert_eq!(ccid, ccid.to_ascii_uppercase());
        assert_eq!(CustomerId::parse_lenient(&ccid), Ok(cid.clone()));
        assert_eq!(ccid[..32].to_ascii_lowercase(), cid.as_str(), "caracara strips three characters and lowercases");
        let checksum = cid.checksum();
        assert!(checksum.len() == 2 && checksum.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
        assert_eq!(&ccid[33..], checksum);
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert!(is_hex32(a.as_str()));
        assert_ne!(a, b);
        assert_eq!(ClientId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn customer_id_accepts_the_console_form_when_lenient() {
        let cid = "0123456789abcdef0123456789abcdef";
        assert_eq!(CustomerId::parse_lenient(cid).expect("plain").as_str(), cid);
        assert_eq!(CustomerId::parse_lenient("0123456789ABCDEF0123456789ABCDEF-4A").expect("console").as_str(), cid);
        assert!(CustomerId::parse_lenient("nope").is_err());
        assert!(
            CustomerId::parse_lenient("0123456789ABCDEF0123456789ABCDEF-zz").is_err(),
            "a checksum is two hex digits"
        );
        assert!(CustomerId::parse("0123456789ABCDEF0123456789ABCDEF-4A").is_err());
    }

    #[test]
    fn rejects_bad_ids_without_echoing_them() {
        let err = CustomerId::parse("SECRETSECRET").expect_err("invalid");
        assert!(!err.to_string().contains("SECRET"));
        assert!(ClientId::parse("0123456789ABCDEF0123456789abcdef").is_err());
    }
}
