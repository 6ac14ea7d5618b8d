//! Splitting a configuration line into its keyword and arguments, as
//! OpenSSH's `readconf.c` does (`strdelim` for the keyword, `argv_split`
//! for the arguments): the keyword ends at whitespace or at one `=`;
//! arguments are separated by whitespace, may be quoted with `"` or `'`,
//! and a `#` starting a word outside quotes ends the line.

/// A line's keyword (as written) and its arguments, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub keyword: String,
    pub args: Vec<String>,
}

/// Splits one line. `Ok(None)` for a blank or comment line; `Err` with
/// ssh's wording for an unterminated quote.
pub(crate) fn split_line(line: &str) -> Result<Option<Line>, String> {
    // ssh strips trailing whitespace (including a CR from a CRLF file).
    let line = line.trim_end_matches([' ', '\t', '\r', '\n']);
    let rest = line.trim_start_matches([' ', '\t']);
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    // `strdelim`: a keyword may be double-quoted.
    let (keyword, after) = match rest.strip_prefix('"') {
        Some(q) => {
            let close = q.find('"').ok_or("invalid quotes")?;
            (q[..close].to_string(), &q[close + 1..])
        }
        None => {
            let end = rest.find([' ', '\t', '=']).unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        }
    };
    let mut after = after.trim_start_matches([' ', '\t']);
    // One `=` may separate the keyword from its arguments (ssh_config(5):
    // "Configuration options may be separated by whitespace or optional
    // whitespace and exactly one `='").
    if let Some(stripped) = after.strip_prefix('=') {
        after = stripped.trim_start_matches([' ', '\t']);
    }
    if keyword.is_empty() {
        return Err("no argument after keyword".into());
    }
    Ok(Some(Line {
        keyword,
        args: split_args(after)?,
    }))
}

/// `argv_split`: words separated by whitespace; `"` and `'` quote; a
/// backslash escapes a quote, a backslash or a space; `#` at the start of
/// a word (outside quotes) begins a comment.
pub(crate) fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => break,
            _ => {}
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            }
            chars.next();
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('\'' | '"' | '\\')) => {
                        word.push(n);
                        chars.next();
                    }
                    Some(&' ') if quote.is_none() => {
                        word.push(' ');
                        chars.next();
                    }
                    _ => word.push('\\'),
                },
                '"' | '\'' if quote == Some(c) => quote = None,
                '"' | '\'' if quote.is_none() => quote = Some(c),
                _ => word.push(c),
            }
        }
        if quote.is_some() {
            return Err("invalid quotes".into());
        }
        args.push(word);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(s: &str) -> (String, Vec<String>) {
        let l = split_line(s).unwrap().unwrap();
        (l.keyword, l.args)
    }

    #[test]
    fn keyword_and_arguments_with_spaces_or_equals() {
        assert_eq!(parts("  Port 22"), ("Port".into(), vec!["22".into()]));
        assert_eq!(parts("Port=22"), ("Port".into(), vec!["22".into()]));
        assert_eq!(parts("\"User\" bob"), ("User".into(), vec!["bob".into()]));
        assert_eq!(parts("Port = 22\r"), ("Port".into(), vec!["22".into()]));
        assert_eq!(
            parts("\tHost a b  c"),
            ("Host".into(), vec!["a".into(), "b".into(), "c".into()])
        );
    }

    #[test]
    fn quotes_escapes_and_comments() {
        assert_eq!(
            parts(r#"SetEnv "A=1 2" 'B=x y' C\ D # comment"#).1,
            vec!["A=1 2", "B=x y", "C D"]
        );
        assert_eq!(parts(r#"X "a\"b""#).1, vec![r#"a"b"#]);
        assert_eq!(parts("X a#b").1, vec!["a#b"]);
        assert!(split_line("# only a comment").unwrap().is_none());
        assert!(split_line("   ").unwrap().is_none());
        assert!(split_line(r#"X "open"#).is_err());
        assert!(split_line("= 1").is_err());
    }
}
