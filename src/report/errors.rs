//! Error messages for people: one line, input-derived text escaped, without the operating system's
//! error numbers or the HTTP client's internals (the cause is said in words instead).

/// Phrases of the HTTP client (hyper through bollard) and what they mean to a user.
const CLIENT_NOISE: [(&str, &str); 3] = [
    (
        "Error in the hyper legacy client: client error (Connect)",
        "no answer (connection refused or no route)",
    ),
    ("Error in the hyper legacy client: ", ""),
    ("client error (SendRequest)", "the connection broke"),
];

/// `msg` as the one line `dredge: error:` prints: escaped (no line break or terminal escape), `(os
/// error N)` dropped, the HTTP client's phrases said in words.
pub fn line(msg: &str) -> String {
    let mut s = crate::text::escape(msg).into_owned();
    for (noise, words) in CLIENT_NOISE {
        s = s.replace(noise, words);
    }
    // " (os error 2)": std's io::Error suffix.
    while let Some(i) = s.find(" (os error ") {
        match s[i..].find(')') {
            Some(j) => s.replace_range(i..=i + j, ""),
            None => break,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn os_error_numbers_and_client_internals_go() {
        assert_eq!(
            line("/x: No such file or directory (os error 2)"),
            "/x: No such file or directory"
        );
        assert_eq!(
            line(
                "cannot reach the Docker Engine at tcp://h:1: Error in the hyper legacy client: client error (Connect)"
            ),
            "cannot reach the Docker Engine at tcp://h:1: no answer (connection refused or no route)"
        );
        assert_eq!(line("a\nb (os error 13) c"), "a\\nb c");
        assert_eq!(line("unbalanced (os error "), "unbalanced (os error ");
    }
}
