//! Algorithm lists with ssh_config(5)'s modifiers, resolved as OpenSSH's
//! `kex_assemble_names` does: `+list` appends to the default list the
//! names not already in it, `^list` puts the names first, `-list` removes
//! the default names matching its patterns, and a plain list replaces the
//! default. conch's defaults are conch_core's algorithm preferences.

use super::options::Slot;
use super::pattern::wildcard_match;
use conch_core::crypto::CryptoProvider;

/// The default list and every implemented name of one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmSet {
    /// Enabled by default, most preferred first.
    pub defaults: Vec<String>,
    /// Every name the implementation accepts (legacy ones included).
    pub all: Vec<String>,
}

/// conch's default and implemented names for `slot`, from conch_core's
/// default [`CryptoProvider`].
pub fn conch_algorithms(slot: Slot) -> AlgorithmSet {
    let provider = CryptoProvider::default();
    let prefs = provider.default_preferences();
    let (defaults, all): (Vec<String>, Vec<String>) = match slot {
        Slot::Cipher => (
            prefs.cipher,
            provider
                .cipher
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
        ),
        Slot::Mac => (
            prefs.mac,
            provider.mac.iter().map(|a| a.name().to_string()).collect(),
        ),
        Slot::Kex => (
            prefs.kex,
            provider.kex.iter().map(|a| a.name().to_string()).collect(),
        ),
        Slot::HostKey | Slot::PubkeyAccepted => (
            prefs.host_key,
            provider
                .signature
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
        ),
    };
    AlgorithmSet { defaults, all }
}

/// Checks a list as `readconf.c` does when it reads the line: every name
/// of a plain, `+` or `^` list must be implemented; a `-` list holds
/// patterns and is not checked.
pub fn check_algorithm_spec(spec: &str, slot: Slot, set: &AlgorithmSet) -> Result<(), String> {
    let what = match slot {
        Slot::Cipher => "SSH2 cipher spec",
        Slot::Mac => "SSH2 MAC spec",
        Slot::Kex => "SSH2 KexAlgorithms",
        Slot::HostKey | Slot::PubkeyAccepted => "key types",
    };
    let names = match spec.as_bytes().first() {
        Some(b'-') => return Ok(()),
        Some(b'+' | b'^') => &spec[1..],
        _ => spec,
    };
    for name in names.split(',') {
        if !set.all.iter().any(|a| a == name) {
            return Err(format!(
                "Bad {what} '{spec}' ('{name}' is not implemented by conch)."
            ));
        }
    }
    Ok(())
}

/// Resolves `spec` against `set` (`kex_assemble_names`).
pub fn resolve_algorithms(spec: &str, set: &AlgorithmSet) -> Result<Vec<String>, String> {
    fn cat(a: &[String], b: &[String]) -> Vec<String> {
        let mut out = a.to_vec();
        for n in b {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }
    let words = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let list = match spec.as_bytes().first() {
        None => return Ok(set.defaults.clone()),
        Some(b'+') => cat(&set.defaults, &words(&spec[1..])),
        Some(b'^') => cat(&words(&spec[1..]), &set.defaults),
        Some(b'-') => {
            let pats = words(&spec[1..]);
            return Ok(set
                .defaults
                .iter()
                .filter(|d| !pats.iter().any(|p| wildcard_match(d, p)))
                .cloned()
                .collect());
        }
        Some(_) => words(spec),
    };
    // Each entry is then a pattern over every implemented name, in the
    // implementation's order; unknown names drop out.
    let mut out: Vec<String> = Vec::new();
    for pat in &list {
        if pat.starts_with('!') {
            return Err(format!("negated algorithm pattern '{pat}' not allowed"));
        }
        let matching: Vec<String> = set
            .all
            .iter()
            .filter(|a| wildcard_match(a, pat))
            .cloned()
            .collect();
        out = cat(&out, &matching);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> AlgorithmSet {
        let v = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        AlgorithmSet {
            defaults: v("a,b,c"),
            all: v("a,b,c,old1,old2"),
        }
    }

    #[test]
    fn modifiers() {
        let s = set();
        assert_eq!(
            resolve_algorithms("+old1,a", &s).unwrap(),
            ["a", "b", "c", "old1"]
        );
        assert_eq!(
            resolve_algorithms("^c,old2", &s).unwrap(),
            ["c", "old2", "a", "b"]
        );
        assert_eq!(resolve_algorithms("-b", &s).unwrap(), ["a", "c"]);
        assert_eq!(resolve_algorithms("-*", &s).unwrap(), Vec::<String>::new());
        assert_eq!(resolve_algorithms("old2,a", &s).unwrap(), ["old2", "a"]);
        assert_eq!(resolve_algorithms("", &s).unwrap(), ["a", "b", "c"]);
    }

    #[test]
    fn checking_names() {
        let s = set();
        assert!(check_algorithm_spec("+old1", Slot::Cipher, &s).is_ok());
        assert!(check_algorithm_spec("-nonsense*", Slot::Cipher, &s).is_ok());
        assert!(check_algorithm_spec("a,zzz", Slot::Mac, &s).is_err());
        assert!(check_algorithm_spec("^zzz", Slot::Kex, &s).is_err());
    }

    #[test]
    fn conch_defaults_come_from_core() {
        let c = conch_algorithms(Slot::Cipher);
        assert_eq!(
            c.defaults,
            CryptoProvider::default().default_preferences().cipher
        );
        let m = conch_algorithms(Slot::Mac);
        assert!(m.all.iter().any(|n| n == "hmac-sha1"));
        assert!(!m.defaults.iter().any(|n| n == "hmac-sha1"));
    }
}
