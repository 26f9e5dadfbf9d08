//! The crate's one PEM reader (RFC 7468 text): splits text into `-----BEGIN …-----` blocks and
//! decodes a block's base64 body.
//!
//! It tolerates what real files and environment variables contain: other text between blocks,
//! CRLF line ends, indentation, and literal `\n` escapes. It never quotes a block body, and it
//! refuses a BEGIN line whose "label" is not a short line of capitals (a BEGIN line missing its
//! closing dashes would otherwise run the label over the base64 body), so callers may quote a
//! label in an error message.
//!
//! Private keys ([`super::PrivateKey::from_pem`]) read PEM through here, and so should every
//! other PEM reader in the crate (root certificates), so that there is one set of rules.

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";
/// The longest label accepted; the longest standard one, `ENCRYPTED PRIVATE KEY`, has 21.
const MAX_LABEL: usize = 40;

/// One PEM block: its label and its (still encoded) body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PemBlock<'a> {
    /// The label between `-----BEGIN ` and `-----`, e.g. `PRIVATE KEY`; capitals, digits and
    /// spaces only.
    pub(crate) label: &'a str,
    /// The text between the BEGIN and END lines. May be key material: never put it in a
    /// message.
    pub(crate) body: &'a str,
}

/// Why PEM text could not be read. The messages name the label at most, never the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PemError<'a> {
    /// A `-----BEGIN ` is not followed by a plausible label and `-----`.
    #[error("a PEM BEGIN line is malformed (expected -----BEGIN LABEL----- on a line of its own)")]
    MalformedBegin,
    /// The block has no `-----END {label}-----`.
    #[error("the PEM block \"{label}\" has no matching END line")]
    MissingEnd {
        /// The label of the BEGIN line.
        label: &'a str,
    },
    /// The body has RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`), i.e. legacy OpenSSL
    /// encryption.
    #[error("the PEM block \"{label}\" has headers (legacy encryption)")]
    Headers {
        /// The label of the block.
        label: &'a str,
    },
    /// The body is not base64.
    #[error("the PEM block \"{label}\" is not valid base64")]
    Base64 {
        /// The label of the block.
        label: &'a str,
    },
}

/// The blocks of `text`, in order. After an error the iteration ends.
///
/// A `-----BEGIN ` with no `-----` anywhere after it ends the iteration quietly (there is no
/// block to report, only stray text).
pub(crate) fn blocks(text: &str) -> Blocks<'_> {
    Blocks { rest: Some(text) }
}

/// The iterator of [`blocks`].
#[derive(Debug, Clone)]
pub(crate) struct Blocks<'a> {
    /// What is left to read; `None` after an error.
    rest: Option<&'a str>,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<PemBlock<'a>, PemError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        let start = rest.find(BEGIN)?;
        let after_begin = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let label_end = after_begin.find(DASHES)?;
        let label = after_begin.get(..label_end).unwrap_or_default();
        // A real label is a short line of capitals; anything else means the BEGIN line is
        // broken and the "label" may be key material.
        if label.len() > MAX_LABEL
            || !label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit())
        {
            return Some(Err(PemError::MalformedBegin));
        }
        let body_and_rest = after_begin
            .get(label_end + DASHES.len()..)
            .unwrap_or_default();
        let end_marker = format!("-----END {label}-----");
        let Some(body_end) = body_and_rest.find(&end_marker) else {
            return Some(Err(PemError::MissingEnd { label }));
        };
        let body = body_and_rest.get(..body_end).unwrap_or_default();
        self.rest = Some(
            body_and_rest
                .get(body_end + end_marker.len()..)
                .unwrap_or_default(),
        );
        Some(Ok(PemBlock { label, body }))
    }
}

impl<'a> PemBlock<'a> {
    /// The body's bytes (for keys and certificates: DER), in memory that is zeroed on drop.
    ///
    /// Whitespace anywhere and literal `\n` / `\r` escapes are skipped; standard base64 with
    /// padding. A body with `Name: value` headers is refused as [`PemError::Headers`].
    pub(crate) fn decode(&self) -> Result<Zeroizing<Vec<u8>>, PemError<'a>> {
        let label = self.label;
        // Legacy OpenSSL encryption puts "Proc-Type: 4,ENCRYPTED" headers in the body.
        if self.body.contains(':') {
            return Err(PemError::Headers { label });
        }
        let body = Zeroizing::new(self.body.replace("\\n", "\n").replace("\\r", "\r"));
        let mut text = Zeroizing::new(String::with_capacity(body.len()));
        text.extend(body.chars().filter(|c| !c.is_ascii_whitespace()));
        Base64::decode_vec(&text)
            .map(Zeroizing::new)
            .map_err(|_| PemError::Base64 { label })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";

    fn labels(text: &str) -> Vec<Result<&str, PemError<'_>>> {
        blocks(text).map(|b| b.map(|b| b.label)).collect()
    }

    #[test]
    fn splits_blocks_in_order_and_skips_text_between() {
        let text = format!(
            "# comment\n{CERT}junk\n-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\r\n{CERT}"
        );
        assert_eq!(
            labels(&text),
            [Ok("CERTIFICATE"), Ok("EC PARAMETERS"), Ok("CERTIFICATE")]
        );
        let first = blocks(&text).next().unwrap().unwrap();
        assert_eq!(first.body, "\nMAMCAQA=\n");
        assert_eq!(*first.decode().unwrap(), [0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(labels("").is_empty());
        assert!(labels("no pem here").is_empty());
        assert!(labels("-----BEGIN CERTIFICATE").is_empty());
    }

    #[test]
    fn decoding_tolerates_indentation_crlf_and_escaped_newlines() {
        for text in [
            "-----BEGIN CERTIFICATE-----\r\n  MAMC\r\n  AQA=\r\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----\\nMAMC\\nAQA=\\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----MAMCAQA=-----END CERTIFICATE-----",
        ] {
            let block = blocks(text).next().unwrap().unwrap();
            assert_eq!(*block.decode().unwrap(), [0x30, 0x03, 0x02, 0x01, 0x00]);
        }
    }

    #[test]
    fn errors_name_the_label_and_stop_the_iteration() {
        let truncated = format!("-----BEGIN PRIVATE KEY-----\nMIIB\n{CERT}");
        assert_eq!(
            labels(&truncated),
            [Err(PemError::MissingEnd {
                label: "PRIVATE KEY"
            })]
        );
        let broken =
            "-----BEGIN PRIVATE KEY\nMIG2AgEAMBAGByqGSM49CANARY\n-----END PRIVATE KEY-----\n";
        assert_eq!(labels(broken), [Err(PemError::MalformedBegin)]);
        let long = format!(
            "-----BEGIN {}-----\n-----END {}-----",
            "A".repeat(41),
            "A".repeat(41)
        );
        assert_eq!(labels(&long), [Err(PemError::MalformedBegin)]);
        assert!(!PemError::MalformedBegin.to_string().contains("CANARY"));

        let headers = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----";
        let block = blocks(headers).next().unwrap().unwrap();
        assert_eq!(
            block.decode().unwrap_err(),
            PemError::Headers {
                label: "RSA PRIVATE KEY"
            }
        );
        let bad = "-----BEGIN CERTIFICATE-----\nCANARY!!\n-----END CERTIFICATE-----";
        let err = blocks(bad).next().unwrap().unwrap().decode().unwrap_err();
        assert_eq!(
            err,
            PemError::Base64 {
                label: "CERTIFICATE"
            }
        );
        assert_eq!(
            err.to_string(),
            "the PEM block \"CERTIFICATE\" is not valid base64"
        );
    }
}
