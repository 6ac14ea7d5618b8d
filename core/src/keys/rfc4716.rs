//! The SSH public key file format of RFC 4716 (`---- BEGIN SSH2 PUBLIC
//! KEY ----`), what `ssh-keygen -e` and some commercial SSH products
//! write.

use super::{KeyError, PublicKey};

const BEGIN: &str = "---- BEGIN SSH2 PUBLIC KEY ----";
const END: &str = "---- END SSH2 PUBLIC KEY ----";

impl PublicKey {
    /// Parses an RFC 4716 public key file: the begin line, header lines
    /// (`Tag: value`, continued by a final `\`, section 3.3), the base64
    /// blob over any number of lines, the end line.
    pub fn from_rfc4716(text: &str) -> Result<Self, KeyError> {
        let bad = |what: &str| KeyError::Encoding(format!("RFC 4716: {what}"));
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        if lines.next().map(str::trim) != Some(BEGIN) {
            return Err(bad("no BEGIN line"));
        }
        let mut body = String::new();
        let mut continued = false;
        let mut ended = false;
        for line in lines.by_ref() {
            if line.trim() == END {
                ended = true;
                break;
            }
            // Section 3.3: a header's value goes on while lines end in `\`.
            if continued || (body.is_empty() && line.contains(':')) {
                continued = line.ends_with('\\');
                continue;
            }
            body.push_str(line.trim());
        }
        if !ended {
            return Err(bad("no END line"));
        }
        let blob = <base64ct::Base64 as base64ct::Encoding>::decode_vec(&body)
            .map_err(|e| bad(&e.to_string()))?;
        Self::from_blob(&blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("testdata/certs/user.pub");

    #[test]
    fn an_ssh_keygen_e_file_with_headers_reads_as_the_key() {
        let key = PublicKey::from_openssh(KEY).unwrap();
        let b64 = <base64ct::Base64 as base64ct::Encoding>::encode_string(key.blob());
        let (a, b) = b64.split_at(20);
        let text = format!(
            "{BEGIN}\nComment: \"a comment that goes \\\n on: and on\"\nx-private: 1\n{a}\n{b}\n{END}\n"
        );
        assert_eq!(PublicKey::from_rfc4716(&text).unwrap(), key);
        assert!(PublicKey::from_rfc4716(&text.replace(END, "")).is_err());
        assert!(PublicKey::from_rfc4716(KEY).is_err());
    }
}
