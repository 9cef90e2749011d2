//! `SHA256SUMS` lines (`hashes::shasum_for`, `hashes::check_listed`) and
//! OpenPGP detached signatures (`upstream::signature::verify_detached`).
//!
//! Input: the first byte picks the mode, the rest is its data.
//! * `0`: `SUMS NUL FILENAME` (without a NUL, the whole text is `SUMS` and the file name is
//!   a real one). Properties: a hash found is lower case, has no whitespace, comes from a
//!   line naming exactly that file, and `check_listed` accepts it.
//! * `1`: two bytes (big-endian) giving the length of the signed text, the signed text, then
//!   the signature bytes, checked against two real GnuPG keys (RSA 4096 and an Ed25519 key
//!   with a signing subkey). Property: success only for the exact text those keys signed,
//!   naming one of their signing key ids.
//! * `2`: an armored (or binary) public key block, offered alone for the real signatures of
//!   the real text (the second byte picks the RSA or the Ed25519 signature). Property:
//!   success only when the offered key holds the key material that made that signature.
//!
//! Nothing panics in any mode.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tfmirror::hashes::{check_listed, shasum_for};
use tfmirror::upstream::signature::verify_detached;

/// Made with GnuPG 2.2 (`gpg --detach-sign`); the same vectors as the unit tests in
/// `src/upstream/signature.rs`.
mod gnupg {
    #![allow(dead_code)]
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

const FILENAME: &str = "terraform-provider-example_1.0.0_linux_amd64.zip";

fn shasums(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sums, filename) = text.split_once('\0').unwrap_or((text, FILENAME));
    let Some(hash) = shasum_for(sums, filename) else {
        assert!(check_listed(sums, filename, "0").is_err());
        return;
    };
    assert_eq!(hash, hash.to_ascii_lowercase());
    assert!(!hash.contains(char::is_whitespace), "{hash:?}");
    assert!(
        sums.lines().any(|line| {
            line.to_ascii_lowercase().starts_with(&hash)
                && line[hash.len()..].starts_with(char::is_whitespace)
                && line[hash.len()..].trim_start().trim_start_matches('*') == filename
        }),
        "no line names {filename:?} with {hash:?}"
    );
    check_listed(sums, filename, &hash).expect("the listed hash is accepted");
}

fn keys() -> Vec<String> {
    vec![
        gnupg::RSA_PUBLIC_KEY.to_string(),
        gnupg::ED25519_PUBLIC_KEY.to_string(),
    ]
}

fn rsa_signature() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(gnupg::RSA_SIGNATURE_BASE64)
        .expect("base64")
}

fn signatures(data: &[u8]) {
    let [hi, lo, rest @ ..] = data else {
        return;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
    let (signed, signature) = rest.split_at(len);
    if let Ok(verified) = verify_detached(signed, signature, &keys()) {
        assert_eq!(signed, gnupg::SUMS, "accepted a text the keys never signed");
        assert!(
            [gnupg::RSA_KEY_ID, gnupg::ED25519_SUBKEY_ID].contains(&verified.key_id.as_str()),
            "accepted as signed by {}",
            verified.key_id
        );
    }
}

fn offered_key(data: &[u8]) {
    let Some((&which, key)) = data.split_first() else {
        return;
    };
    let (signature, signer) = if which % 2 == 0 {
        (rsa_signature(), gnupg::RSA_KEY_ID)
    } else {
        (
            gnupg::ED25519_ARMORED_SIGNATURE.as_bytes().to_vec(),
            gnupg::ED25519_SUBKEY_ID,
        )
    };
    let key = String::from_utf8_lossy(key).into_owned();
    if let Ok(verified) = verify_detached(gnupg::SUMS, &signature, &[key]) {
        assert_eq!(
            verified.key_id, signer,
            "another key accepted for the signature"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => shasums(rest),
        Some((1, rest)) => signatures(rest),
        Some((2, rest)) => offered_key(rest),
        _ => {}
    }
});
