//! OpenPGP verification of a registry's `SHA256SUMS` file.
//!
//! A registry proves a package is its own by signing the `SHA256SUMS` file with a detached
//! OpenPGP signature and listing its public keys in the download info
//! (`signing_keys.gpg_public_keys[].ascii_armor`). HashiCorp sends a binary signature made with
//! an RSA 4096 key; other registries may send ASCII armor. This module checks such a signature
//! the way Terraform does: the signature must verify against the primary key, or a bound signing
//! subkey, of one of the offered keys.
//!
//! Verification is CPU work and runs synchronously; async callers use `spawn_blocking`.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey};
use pgp::packet::{PublicKey, SignatureType};
use pgp::types::{Fingerprint, KeyDetails, KeyId};

/// The key that vouched for a file, for logs and the package's provenance record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBy {
    /// 16 upper-case hex digits of the key or subkey that made the signature.
    pub key_id: String,
    /// Upper-case hex fingerprint of the primary key that key belongs to.
    pub fingerprint: String,
}

/// Why a signature was not accepted. Messages name key ids so an operator can compare them with
/// what the registry publishes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the registry offered no signing key")]
    NoKeys,
    /// `index` counts from 1, in the order the registry listed its keys.
    #[error("signing key {index} is not a valid OpenPGP public key: {reason}")]
    InvalidKey { index: usize, reason: String },
    #[error("the signature is not a valid OpenPGP detached signature: {reason}")]
    MalformedSignature { reason: String },
    #[error(
        "signature was made by key {key_id} which is not among the registry's keys ({})",
        offered.join(", ")
    )]
    UnknownKey {
        key_id: String,
        offered: Vec<String>,
    },
    #[error(
        "signature was made by subkey {key_id} of key {primary_key_id}, which is not valid for \
         signing: {reason}"
    )]
    SubkeyNotForSigning {
        key_id: String,
        primary_key_id: String,
        reason: String,
    },
    #[error(
        "signature made by key {key_id} does not verify: the signed file was altered or the \
         signature is corrupt"
    )]
    DoesNotVerify { key_id: String },
}

/// Checks that `signature` (binary or ASCII-armored, one or more detached signatures) is a valid
/// signature over `signed` by one of `armored_keys` (each an ASCII-armored public key block, as
/// listed in the registry's download info).
///
/// Like Terraform, a key that cannot be parsed fails the whole check even if another key would
/// verify: the registry's key list is broken and deserves attention. Primary keys are accepted
/// whatever their key flags say; a subkey is accepted only when its binding signature (with the
/// embedded back-signature) verifies, flags it for signing, and it is not revoked. Key expiry is
/// not checked, as Terraform does not check it either.
pub fn verify_detached(
    signed: &[u8],
    signature: &[u8],
    armored_keys: &[String],
) -> Result<VerifiedBy, SignatureError> {
    if armored_keys.is_empty() {
        return Err(SignatureError::NoKeys);
    }
    let keys = parse_keys(armored_keys)?;
    let signatures = parse_signatures(signature)?;
    let candidates = candidates(&keys);

    let mut first_error = None;
    for sig in &signatures {
        match verify_one(signed, sig, &keys, &candidates) {
            Ok(verified) => return Ok(verified),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(
        first_error.unwrap_or_else(|| SignatureError::MalformedSignature {
            reason: "it holds no signature".into(),
        }),
    )
}

/// 16 upper-case hex digits, the form registries use in `key_id`.
fn key_id_hex(id: &KeyId) -> String {
    hex::encode_upper(id.as_ref())
}

fn fingerprint_hex(fp: &Fingerprint) -> String {
    hex::encode_upper(fp.as_bytes())
}

fn parse_keys(armored_keys: &[String]) -> Result<Vec<SignedPublicKey>, SignatureError> {
    let mut keys = Vec::new();
    for (i, armored) in armored_keys.iter().enumerate() {
        let invalid = |reason: String| SignatureError::InvalidKey {
            index: i + 1,
            reason,
        };
        // `from_reader_many` takes armor or binary; one armor block may hold several keys.
        let (parsed, _headers) = SignedPublicKey::from_reader_many(armored.trim_start().as_bytes())
            .map_err(|e| invalid(e.to_string()))?;
        let parsed: Vec<SignedPublicKey> = parsed
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        if parsed.is_empty() {
            return Err(invalid("the armor holds no public key".into()));
        }
        keys.extend(parsed);
    }
    Ok(keys)
}

fn parse_signatures(signature: &[u8]) -> Result<Vec<DetachedSignature>, SignatureError> {
    let malformed = |reason: String| SignatureError::MalformedSignature { reason };
    let trimmed = signature.trim_ascii_start();
    if trimmed.is_empty() {
        return Err(malformed("it is empty".into()));
    }
    let (parsed, _headers) =
        DetachedSignature::from_reader_many(trimmed).map_err(|e| malformed(e.to_string()))?;
    let parsed: Vec<DetachedSignature> = parsed
        .collect::<Result<_, _>>()
        .map_err(|e| malformed(e.to_string()))?;
    if parsed.is_empty() {
        return Err(malformed("it holds no signature".into()));
    }
    for sig in &parsed {
        match sig.signature.typ() {
            Some(SignatureType::Binary | SignatureType::Text) => {}
            other => {
                return Err(malformed(format!(
                    "it is a {other:?} signature, not a signature over a file"
                )));
            }
        }
    }
    Ok(parsed)
}

/// A key or subkey that might have made the signature.
struct Candidate<'a> {
    component: Component<'a>,
    key_id: KeyId,
    fingerprint: Fingerprint,
    /// Index into the parsed keys, for the primary key's identity.
    owner: usize,
    /// `Err(reason)` for a subkey that must not be trusted to sign.
    usable: Result<(), String>,
}

enum Component<'a> {
    Primary(&'a PublicKey),
    Subkey(&'a SignedPublicSubKey),
}

impl Component<'_> {
    fn verify(&self, sig: &DetachedSignature, signed: &[u8]) -> pgp::errors::Result<()> {
        match self {
            Component::Primary(key) => sig.verify(*key, signed),
            Component::Subkey(key) => sig.verify(*key, signed),
        }
    }
}

fn candidates(keys: &[SignedPublicKey]) -> Vec<Candidate<'_>> {
    let mut out = Vec::new();
    for (owner, key) in keys.iter().enumerate() {
        out.push(Candidate {
            component: Component::Primary(&key.primary_key),
            key_id: key.primary_key.legacy_key_id(),
            fingerprint: key.primary_key.fingerprint(),
            owner,
            usable: Ok(()),
        });
        for sub in &key.public_subkeys {
            out.push(Candidate {
                component: Component::Subkey(sub),
                key_id: sub.legacy_key_id(),
                fingerprint: sub.fingerprint(),
                owner,
                usable: subkey_can_sign(&key.primary_key, sub),
            });
        }
    }
    out
}

fn subkey_can_sign(primary: &PublicKey, sub: &SignedPublicSubKey) -> Result<(), String> {
    // Checks every binding signature, including the back-signature of signing subkeys.
    sub.verify_bindings(primary)
        .map_err(|e| format!("its binding signature does not verify ({e})"))?;
    if sub
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
    {
        return Err("it has been revoked".into());
    }
    let flagged_for_signing = sub
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyBinding) && s.key_flags().sign());
    if !flagged_for_signing {
        return Err("its key flags do not allow signing".into());
    }
    Ok(())
}

fn verify_one(
    signed: &[u8],
    sig: &DetachedSignature,
    keys: &[SignedPublicKey],
    candidates: &[Candidate<'_>],
) -> Result<VerifiedBy, SignatureError> {
    let issuer_ids = sig.signature.issuer_key_id();
    let issuer_fps = sig.signature.issuer_fingerprint();
    let names_issuer = !issuer_ids.is_empty() || !issuer_fps.is_empty();
    let matching: Vec<&Candidate<'_>> = candidates
        .iter()
        .filter(|c| {
            // A signature without issuer subpackets is rare but legal: try every usable key.
            !names_issuer
                || issuer_ids.iter().any(|id| **id == c.key_id)
                || issuer_fps.iter().any(|fp| **fp == c.fingerprint)
        })
        .collect();

    if matching.is_empty() {
        let key_id = issuer_ids
            .first()
            .map(|id| key_id_hex(id))
            .or_else(|| issuer_fps.first().map(|fp| fingerprint_hex(fp)))
            .unwrap_or_else(|| "(unnamed)".into());
        let offered = keys
            .iter()
            .map(|k| key_id_hex(&k.primary_key.legacy_key_id()))
            .collect();
        return Err(SignatureError::UnknownKey { key_id, offered });
    }

    let mut error = None;
    for candidate in matching {
        let key_id = key_id_hex(&candidate.key_id);
        if let Err(reason) = &candidate.usable {
            error.get_or_insert(SignatureError::SubkeyNotForSigning {
                key_id,
                primary_key_id: key_id_hex(&keys[candidate.owner].primary_key.legacy_key_id()),
                reason: reason.clone(),
            });
            continue;
        }
        match candidate.component.verify(sig, signed) {
            Ok(()) => {
                return Ok(VerifiedBy {
                    key_id,
                    fingerprint: fingerprint_hex(&keys[candidate.owner].primary_key.fingerprint()),
                });
            }
            Err(_) => {
                // The cryptographic detail ("invalid signature") helps nobody; the key id does.
                // A verification error takes precedence over an unusable-subkey error.
                if !matches!(error, Some(SignatureError::DoesNotVerify { .. })) {
                    error = Some(SignatureError::DoesNotVerify { key_id });
                }
            }
        }
    }
    Err(error.unwrap_or_else(|| SignatureError::MalformedSignature {
        reason: "no key to check it with".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp::composed::{
        ArmorOptions, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
        SubkeyParamsBuilder,
    };
    use pgp::crypto::hash::HashAlgorithm;
    use pgp::ser::Serialize;
    use pgp::types::{Password, SigningKey};

    const SUMS: &[u8] = b"0123abcd  terraform-provider-null_3.2.1_linux_amd64.zip\n";

    /// An Ed25519 (legacy EdDSA, as GnuPG makes) key: a primary that certifies and signs,
    /// plus one signing subkey. Fast to generate, unlike RSA.
    fn generate_key(name: &str) -> SignedSecretKey {
        generate_key_of(KeyType::Ed25519Legacy, name)
    }

    fn generate_key_of(key_type: KeyType, name: &str) -> SignedSecretKey {
        let mut subkey = SubkeyParamsBuilder::default();
        subkey
            .key_type(key_type.clone())
            .can_sign(true)
            .can_encrypt(EncryptionCaps::None)
            .can_authenticate(false);
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(key_type)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(format!("{name} <{name}@example.com>"))
            .subkeys(vec![subkey.build().unwrap()]);
        params
            .build()
            .unwrap()
            .generate(rand::thread_rng())
            .unwrap()
    }

    fn armored_public(key: &SignedSecretKey) -> String {
        key.to_public_key()
            .to_armored_string(ArmorOptions::default())
            .unwrap()
    }

    fn sign(key: &impl SigningKey, data: &[u8]) -> DetachedSignature {
        DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )
        .unwrap()
    }

    fn binary(sig: &DetachedSignature) -> Vec<u8> {
        sig.to_bytes().unwrap()
    }

    fn primary_id(key: &SignedSecretKey) -> String {
        key_id_hex(&key.primary_key.legacy_key_id())
    }

    #[test]
    fn primary_key_signature_verifies_and_names_the_key() {
        let key = generate_key("alice");
        let sig = binary(&sign(&key.primary_key, SUMS));

        let verified = verify_detached(SUMS, &sig, &[armored_public(&key)]).unwrap();

        assert_eq!(verified.key_id, primary_id(&key));
        assert_eq!(verified.key_id.len(), 16);
        assert!(
            verified
                .key_id
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(
            verified.fingerprint,
            hex::encode_upper(key.primary_key.fingerprint().as_bytes())
        );
    }

    #[test]
    fn subkey_signature_verifies_and_names_the_subkey() {
        let key = generate_key("alice");
        let subkey = &key.secret_subkeys[0];
        let sig = binary(&sign(&subkey.key, SUMS));

        let verified = verify_detached(SUMS, &sig, &[armored_public(&key)]).unwrap();

        assert_eq!(verified.key_id, key_id_hex(&subkey.legacy_key_id()));
        assert_ne!(verified.key_id, primary_id(&key));
        assert_eq!(
            verified.fingerprint,
            hex::encode_upper(key.primary_key.fingerprint().as_bytes())
        );
    }

    #[test]
    fn rsa_signature_verifies() {
        // HashiCorp signs with RSA 4096; 2048 bits keeps key generation short in tests.
        let key = generate_key_of(KeyType::Rsa(2048), "rsa");
        let sig = binary(&sign(&key.primary_key, SUMS));

        let verified = verify_detached(SUMS, &sig, &[armored_public(&key)]).unwrap();
        assert_eq!(verified.key_id, primary_id(&key));

        let err = verify_detached(b"altered", &sig, &[armored_public(&key)]).unwrap_err();
        assert!(matches!(err, SignatureError::DoesNotVerify { .. }), "{err}");
    }

    #[test]
    fn armored_signature_verifies() {
        let key = generate_key("alice");
        let armored = sign(&key.primary_key, SUMS)
            .to_armored_bytes(ArmorOptions::default())
            .unwrap();
        assert!(armored.starts_with(b"-----BEGIN PGP SIGNATURE-----"));

        let verified = verify_detached(SUMS, &armored, &[armored_public(&key)]).unwrap();
        assert_eq!(verified.key_id, primary_id(&key));
    }

    #[test]
    fn the_right_key_is_found_among_several() {
        let alice = generate_key("alice");
        let bob = generate_key("bob");
        let sig = binary(&sign(&bob.primary_key, SUMS));

        let verified =
            verify_detached(SUMS, &sig, &[armored_public(&alice), armored_public(&bob)]).unwrap();
        assert_eq!(verified.key_id, primary_id(&bob));
    }

    #[test]
    fn altered_file_fails() {
        let key = generate_key("alice");
        let sig = binary(&sign(&key.primary_key, SUMS));
        let mut altered = SUMS.to_vec();
        altered[0] = b'f';

        let err = verify_detached(&altered, &sig, &[armored_public(&key)]).unwrap_err();

        assert_eq!(
            err,
            SignatureError::DoesNotVerify {
                key_id: primary_id(&key)
            }
        );
        assert!(err.to_string().contains(&primary_id(&key)));
        assert!(err.to_string().contains("altered"));
    }

    #[test]
    fn corrupt_signature_fails() {
        let key = generate_key("alice");
        let mut sig = binary(&sign(&key.primary_key, SUMS));
        let last = sig.len() - 1;
        sig[last] ^= 0x01;

        let err = verify_detached(SUMS, &sig, &[armored_public(&key)]).unwrap_err();
        assert!(
            matches!(
                err,
                SignatureError::DoesNotVerify { .. } | SignatureError::MalformedSignature { .. }
            ),
            "{err}"
        );
    }

    #[test]
    fn signature_by_another_key_names_that_key_and_the_offered_ones() {
        let offered = generate_key("registry");
        let other = generate_key("mallory");
        let sig = binary(&sign(&other.primary_key, SUMS));

        let err = verify_detached(SUMS, &sig, &[armored_public(&offered)]).unwrap_err();

        assert_eq!(
            err,
            SignatureError::UnknownKey {
                key_id: primary_id(&other),
                offered: vec![primary_id(&offered)],
            }
        );
        let message = err.to_string();
        assert!(message.contains(&primary_id(&other)), "{message}");
        assert!(message.contains(&primary_id(&offered)), "{message}");
    }

    #[test]
    fn no_keys_is_an_error() {
        let key = generate_key("alice");
        let sig = binary(&sign(&key.primary_key, SUMS));

        let err = verify_detached(SUMS, &sig, &[]).unwrap_err();
        assert_eq!(err, SignatureError::NoKeys);
        assert_eq!(err.to_string(), "the registry offered no signing key");
    }

    #[test]
    fn garbage_key_is_an_error_naming_its_position() {
        let key = generate_key("alice");
        let sig = binary(&sign(&key.primary_key, SUMS));
        let keys = [
            armored_public(&key),
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n"
                .to_string(),
        ];

        let err = verify_detached(SUMS, &sig, &keys).unwrap_err();
        assert!(
            matches!(err, SignatureError::InvalidKey { index: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("signing key 2 is not a valid OpenPGP public key: ")
        );

        let err = verify_detached(SUMS, &sig, &["hello".to_string()]).unwrap_err();
        assert!(
            matches!(err, SignatureError::InvalidKey { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn garbage_signature_is_malformed() {
        let key = generate_key("alice");
        for garbage in [&b""[..], b"not a signature", b"\x89\x00\x01"] {
            let err = verify_detached(SUMS, garbage, &[armored_public(&key)]).unwrap_err();
            assert!(
                matches!(err, SignatureError::MalformedSignature { .. }),
                "{garbage:?}: {err}"
            );
        }
    }

    /// Made with GnuPG 2.2 (`gpg --detach-sign`), the tool registries sign with: an RSA 4096
    /// primary key that signs, as HashiCorp's does, and an Ed25519 key that signs with a subkey.
    mod gnupg {
        pub const SUMS: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  terraform-provider-example_1.0.0_linux_amd64.zip\n";
        pub const RSA_KEY_ID: &str = "91FEF23C59E4291A";
        pub const RSA_FINGERPRINT: &str = "765A149070DE2FB4954ADF0191FEF23C59E4291A";
        pub const RSA_PUBLIC_KEY: &str = "\
-----BEGIN PGP PUBLIC KEY BLOCK-----

mQINBGsHNBYBEAC+UjixRv8vmaYOgG8Y4ONkAn6qmrgktfRKCPzlQ8yrSfhRcL8I
4ipLsl1JtWHiGQLChXJB+YkVMYUOwtQt3qZp28Cky0zTbyEvjbxT0jYzCUGn1ar9
LedrIshnF/qeJPVlJMekQbk0moxyrMu1h68C6apI1lMGOUREaZ5Lppwuo3tHSwkW
LU6psGg+g0fSDnBbTZPCyjH4g7/AiiYrh2WKYAjYV7LgvF0WJQ1a7NHCe2H2IBBC
CzyKNLS8qlH4yjAjv2ClF5U7cdbsXpbrkwejX94u1AmnSuWMErQ2ZXbYCr5LbjYh
Y7ncoIJpFuMShad/f0VFOGfTY3cJG4VyhEWzJecs31wu03JxYFmmLcYlNPbEdzAi
KD16RvG++BQ4GyiRAYiCsqgcid/Y3HaV/W5Q2jk6ZYx/bV21ESBNLjfjidPOgwDV
sAVQgGkgljifSXxAr0z5n0lxCk8EMb4239euo0ghuRoviF3JpwqC++zsjzuvLhGo
dw21qzuL9IYudCG7LpExn0ldc3pRYhvR0ViL8FqOzAcWT1cSsdBaMFzlUApEIfPj
61JdpkBL/mUKYbaso2W05L5KFkAOKx2u/pSsY/zblhutITk2/ryIeoEWOmkl+6m/
4sn51Y2YvsjcV49z+3YGR8o9pVUUls0gb8uEfNdHvXK2AriLppEFuKUgRQARAQAB
tCRUZXN0IFJlZ2lzdHJ5IDxyZWdpc3RyeUBleGFtcGxlLmNvbT6JAk4EEwEKADgW
IQR2WhSQcN4vtJVK3wGR/vI8WeQpGgUCawc0FgIbAwULCQgHAgYVCgkICwIEFgID
AQIeAQIXgAAKCRCR/vI8WeQpGkuVEACjWE004b99i145n4BgD09RHr/U8nOmSMJa
DxsIOPUTpAlzIHaPBUp4zlFCASMGU2CgCoa2CQD9OKjRUUcnMcabMoIRqP9+2ImA
Vu/8ZTy4hTRaBNwA2s7zWjN/eLBCRWgrtLkstq/CTER0qCqXWzSdbY0RxiUIs9Fv
YJQOBsTwlzKcFACClBTogjohZw1WNtN47lCqDoXafGvS1odh4CQKHxaaTJwD21mu
v5VoOeF+76Nv+n4anXbr2Hc7S2NIBmGJgwIkOw50hEbneD3gHlDsPlZPwreF1BIp
ZcNusBzHRKm4DI1UorFjINkMLZQwOgdB77eZGpOpK15sS3mQrMa6ziQucBpRGMGc
h2xBNc3sPv3FOL3vD30qvifGNlpN1NpgWjR2dMQvdX40cedgNoL6Y9aGrCpD5YG9
CavFxKD5ZoF0IHhCTgeENoY17Pcq78dDIQuLyKSyKTzsKm3CyIwooR09tnOjJVbc
uEusDmP+pnvladK2G6yMqa+ZRjRukf2Pb9Yo8aL3A1BUNgnBF60zOTgdVSClJjp7
75Hy857Oj6gwYgi7ZvHkP6v1IsjmchFKZS1v9usAcXa0j09Q5cjW4PjGkyvrWJBc
zDaia2HGx0Zv983VHZngn4TUN7VnlWU36ryScZbr1qwAu7NT2ezSQLoEAasZElPl
2IceS8vu4g==
=mdhd
-----END PGP PUBLIC KEY BLOCK-----
";
        /// Binary, base64-encoded here.
        pub const RSA_SIGNATURE_BASE64: &str = concat!(
            "iQJJBAABCgAzFiEEdloUkHDeL7SVSt8Bkf7yPFnkKRoFAmsHNBcVHHJlZ2lzdHJ5QGV4YW1wbGUuY29tAAoJEJH+",
            "8jxZ5CkaTe4P/R0hXAxV4ZjBxrMmlCKG/McfQNCwmc+JhjRIprSRJHu4PXKDeoq4dFT8CG9o6cgTO/W9nAYBwsRD",
            "1PNQm+YtKzu6pK0ie5QSnI2uISh2Ofdk1soDN5TNEDiyw3GSuoG14halvmnYpuAAKRwruHy+/jJr27rxAn5XUQ6B",
            "NX+45GhjP/5Kx5Ori5pJCybD15W6DnQgFErah3RPZcHmZqwWyj1FmzcvTEdA458eveyBR6A+lZxxtwwsDj82cNrv",
            "q5OCr40aTDLeDRB1IImSPZnHvrZRGox2CM1v7jtb1vvIYt3mdwEWxfIqyd6gTnB0uqBAseQUG/f+WI0ya3cG5q3A",
            "6rVRU6Y18CacAZ5z5m1oKD75yhnBdHWBvLz1JiTs0f79ZQzWpu3w4h/0+3krvYn4bUF7D6QTfoo7UHcpcyrRE6F4",
            "vshqS/geCvn28q7XSMa9lR41lE55IY5hvkIqyC5a9VZF0oI9VcML4U0I4JAz92bw4kwKBSOsCS68p4NZLActcCKh",
            "MFhHNNAtUwnV3nAAX4oO9JLb6ELVYiaFmV8h8Ln5skkNbLKjX7RIb7AI2U0rMiURv+N7zvWU8kmGtUqbbAoswdUv",
            "FPDshVc6Z7czT41nfX/NFQO23s9bxo8H46eyL2AvfIuK3zTX23AfS7i6Pza2p4JjYT6X65KYHrKOwstK",
        );
        pub const ED25519_SUBKEY_ID: &str = "86AC83360DBE9877";
        pub const ED25519_FINGERPRINT: &str = "BF24CC3EEB1DE88AAAD6AF358B63EAB49EC0D77D";
        pub const ED25519_PUBLIC_KEY: &str = "\
-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEawc0FxYJKwYBBAHaRw8BAQdAdk4k7fiVdBnu6Q/3al1fuEGFkOIiYtf4Ht2X
1K7cXWW0IFRlc3QgU3Via2V5IDxzdWJrZXlAZXhhbXBsZS5jb20+iJAEExYIADgW
IQS/JMw+6x3oiqrWrzWLY+q0nsDXfQUCawc0FwIbAQULCQgHAgYVCgkICwIEFgID
AQIeAQIXgAAKCRCLY+q0nsDXfc88AQCDRj0pt5OXtiZKPTNjMzjCLZ6DPHVvB6Ig
xeA7QmRC6gEAxURAY7YUnupi6du4eC5aGHhtsQrAx2QvDCFZDOEhJQC4MwRrBzQX
FgkrBgEEAdpHDwEBB0A8kR94Lr9wpVSbBGNghp5JIutxdnmilTuOBLhNTv1jwojv
BBgWCAAgFiEEvyTMPusd6Iqq1q81i2PqtJ7A130FAmsHNBcCGwIAgQkQi2PqtJ7A
1312IAQZFggAHRYhBK00S/nulsebE7IAbYasgzYNvph3BQJrBzQXAAoJEIasgzYN
vph3Lq8A/178N2RKCoNWpwnRleZXXt3meFJcZ1u5dKgaD+29Q/nRAP40LGbHP6Ou
/A27/hWuz2mBNXqH85MMxmqcwnd9FZx1DL7jAQCIci2f0RAjeYCBqkXJm1tgqRn6
1HBzVahCVOSwfV+eQAD+I8S8fi5z46AtQFtgQ//ev2UxdgjTh3nKWqpSMyZFZQY=
=KeYT
-----END PGP PUBLIC KEY BLOCK-----
";
        pub const ED25519_ARMORED_SIGNATURE: &str = "\
-----BEGIN PGP SIGNATURE-----

iIkEABYIADEWIQStNEv57pbHmxOyAG2GrIM2Db6YdwUCawc0GBMcc3Via2V5QGV4
YW1wbGUuY29tAAoJEIasgzYNvph34xwA/3YhdxjQywpCuhz/ifXF+BjbsTd6rbgo
rtioQJcF+fVRAP9ZwrPoMjvZI0NvJ7RzboypPnOqooGxerEHm4HVbKx4Cg==
=jzcX
-----END PGP SIGNATURE-----
";
    }

    #[test]
    fn gnupg_rsa_binary_signature_verifies() {
        use base64::Engine;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(gnupg::RSA_SIGNATURE_BASE64)
            .unwrap();
        let keys = [gnupg::RSA_PUBLIC_KEY.to_string()];

        let verified = verify_detached(gnupg::SUMS, &sig, &keys).unwrap();
        assert_eq!(verified.key_id, gnupg::RSA_KEY_ID);
        assert_eq!(verified.fingerprint, gnupg::RSA_FINGERPRINT);

        let mut altered = gnupg::SUMS.to_vec();
        altered[0] = b'f';
        assert_eq!(
            verify_detached(&altered, &sig, &keys).unwrap_err(),
            SignatureError::DoesNotVerify {
                key_id: gnupg::RSA_KEY_ID.into()
            }
        );
    }

    #[test]
    fn gnupg_armored_subkey_signature_verifies() {
        let keys = [
            gnupg::RSA_PUBLIC_KEY.to_string(),
            gnupg::ED25519_PUBLIC_KEY.to_string(),
        ];
        let verified = verify_detached(
            gnupg::SUMS,
            gnupg::ED25519_ARMORED_SIGNATURE.as_bytes(),
            &keys,
        )
        .unwrap();
        assert_eq!(verified.key_id, gnupg::ED25519_SUBKEY_ID);
        assert_eq!(verified.fingerprint, gnupg::ED25519_FINGERPRINT);

        // Offered only the RSA key, the message names the subkey and what was offered.
        let err = verify_detached(
            gnupg::SUMS,
            gnupg::ED25519_ARMORED_SIGNATURE.as_bytes(),
            &keys[..1],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "signature was made by key {} which is not among the registry's keys ({})",
                gnupg::ED25519_SUBKEY_ID,
                gnupg::RSA_KEY_ID
            )
        );
    }
}
