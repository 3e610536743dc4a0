//! The email, byte for byte as Kapacitor's mail library (gomail) writes it: its headers, values
//! Q-encoded (RFC 2047) when they hold more than printable ASCII and folded at 76 columns, and
//! the HTML body quoted-printable as Go's `mime/quotedprintable` encodes it.
//!
//! ```text
//! Mime-Version: 1.0
//! Date: Mon, 02 Jan 2006 15:04:05 -0700
//! Message-ID: <1136214245000000000.5f0c6e4b9a3d2e11@example.com>
//! From: kapacitor@example.com
//! To: oncall@example.com, backup@example.com
//! Subject: cpu:nil is CRITICAL
//! Content-Type: text/html; charset=UTF-8
//! Content-Transfer-Encoding: quoted-printable
//!
//! <b>cpu:nil is CRITICAL</b>
//! ```
//!
//! (every line ending in CRLF). No crate writes gomail's form: lettre's builder, for one,
//! base64-encodes headers and lowercases the charset, which Kapacitor's tests compare.

/// One email to write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Email<'a> {
    /// The From header, as configured.
    pub(crate) from: &'a str,
    /// The To header's addresses, as given.
    pub(crate) to: &'a [String],
    /// The Subject: the alert's message.
    pub(crate) subject: &'a str,
    /// The HTML body: the alert's details.
    pub(crate) body: &'a str,
    /// The Date header, RFC 1123 with a numeric zone (Go's `time.RFC1123Z`).
    pub(crate) date: &'a str,
    /// The Message-ID header, with its angle brackets.
    pub(crate) message_id: &'a str,
}

impl Email<'_> {
    /// The message, headers and body, ready for SMTP's DATA (before dot-stuffing). Without the
    /// final line break: SMTP's end of data supplies it, as Go's dot writer does.
    pub(crate) fn to_bytes(self) -> Vec<u8> {
        let mut out = String::with_capacity(512 + self.body.len() * 3 / 2);
        out.push_str("Mime-Version: 1.0\r\n");
        write_header(&mut out, "Date", &[self.date]);
        write_header(&mut out, "Message-ID", &[self.message_id]);
        write_header(&mut out, "From", &[&q_encode(self.from)]);
        let to: Vec<String> = self.to.iter().map(|t| q_encode(t)).collect();
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        write_header(&mut out, "To", &to);
        write_header(&mut out, "Subject", &[&q_encode(self.subject)]);
        write_header(&mut out, "Content-Type", &["text/html; charset=UTF-8"]);
        write_header(&mut out, "Content-Transfer-Encoding", &["quoted-printable"]);
        out.push_str("\r\n");
        let mut body = QuotedPrintable::new(out.into_bytes());
        body.write(self.body.as_bytes());
        let mut bytes = body.close();
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(bytes.len() - 2);
        }
        bytes
    }
}

/// The longest encoded word (RFC 2047), and so the most encoded text one word holds after
/// `=?UTF-8?q?` and before `?=`.
const MAX_WORD_CONTENT: usize = 75 - "=?UTF-8?q?".len() - "?=".len();

/// Go's `mime.QEncoding.Encode("UTF-8", s)`: `s` itself when it is printable ASCII (tabs
/// allowed), else encoded words of at most 75 characters, never splitting a character.
fn q_encode(s: &str) -> String {
    if !s.bytes().any(|b| !(b' '..=b'~').contains(&b) && b != b'\t') {
        return s.to_owned();
    }
    let mut out = String::from("=?UTF-8?q?");
    let mut word_len = 0;
    for c in s.chars() {
        let mut utf8 = [0; 4];
        let bytes = c.encode_utf8(&mut utf8).as_bytes();
        let literal = matches!(c, ' '..='~') && !matches!(c, '=' | '?' | '_');
        let len = if literal { 1 } else { 3 * bytes.len() };
        if word_len + len > MAX_WORD_CONTENT {
            out.push_str("?= =?UTF-8?q?");
            word_len = 0;
        }
        for &b in bytes {
            match b {
                b' ' => out.push('_'),
                b'!'..=b'~' if !matches!(b, b'=' | b'?' | b'_') => out.push(char::from(b)),
                _ => push_hex(&mut out, b),
            }
        }
        word_len += len;
    }
    out.push_str("?=");
    out
}

fn push_hex(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('=');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// gomail's `writeHeader`: `Key: v1, v2` with the line folded (a space becomes CRLF and a space)
/// to keep lines within 76 characters where the values allow it.
fn write_header(out: &mut String, key: &str, values: &[&str]) {
    out.push_str(key);
    out.push_str(": ");
    let mut left = 76 - key.len() as isize - 2;
    for (i, value) in values.iter().enumerate() {
        if left < 1 {
            out.push_str(if i == 0 { "\r\n " } else { ",\r\n " });
            left = 75;
        } else if i != 0 {
            out.push_str(", ");
            left -= 2;
        }
        let mut rest: &str = value;
        while rest.len() as isize > left {
            rest = fold_line(out, rest, left);
            left = 75;
        }
        out.push_str(rest);
        left = match rest.rfind('\n') {
            Some(newline) => 75 - (rest.len() - newline - 1) as isize,
            None => left - rest.len() as isize,
        };
    }
    out.push_str("\r\n");
}

/// gomail's `writeLine`: writes the start of `s` up to a fold (the last space before `left`,
/// else the first space or newline after column 75, else all of it) and returns the rest.
fn fold_line<'a>(out: &mut String, s: &'a str, left: isize) -> &'a str {
    let bytes = s.as_bytes();
    if let Some(newline) = s.find('\n')
        && (newline as isize) < left
    {
        out.push_str(&s[..=newline]);
        return &s[newline + 1..];
    }
    let before = usize::try_from(left).unwrap_or(0).min(bytes.len());
    if let Some(space) = bytes[..before].iter().rposition(|&b| b == b' ') {
        out.push_str(&s[..space]);
        out.push_str("\r\n ");
        return &s[space + 1..];
    }
    for (i, &b) in bytes.iter().enumerate().skip(75) {
        if b == b' ' {
            out.push_str(&s[..i]);
            out.push_str("\r\n ");
            return &s[i + 1..];
        }
        if b == b'\n' {
            out.push_str(&s[..=i]);
            return &s[i + 1..];
        }
    }
    out.push_str(s);
    ""
}

/// The longest quoted-printable line, before its CRLF (RFC 2045).
const LINE_MAX: usize = 76;

/// Go's `mime/quotedprintable.Writer` (text mode): `\r`, `\n` and `\r\n` become CRLF, a space or
/// tab before a line break or at the end is encoded, `=` and bytes outside printable ASCII are
/// `=XX`, and a soft break `=` CRLF keeps lines within 76 characters.
struct QuotedPrintable {
    out: Vec<u8>,
    line: Vec<u8>,
    cr: bool,
}

impl QuotedPrintable {
    fn new(out: Vec<u8>) -> Self {
        QuotedPrintable {
            out,
            line: Vec::with_capacity(LINE_MAX + 2),
            cr: false,
        }
    }

    fn write(&mut self, input: &[u8]) {
        for &b in input {
            match b {
                b'!'..=b'~' if b != b'=' => self.literal(b),
                b' ' | b'\t' | b'\n' | b'\r' => self.literal(b),
                _ => self.encode(b),
            }
        }
    }

    fn close(mut self) -> Vec<u8> {
        self.encode_last_space();
        self.flush();
        self.out
    }

    fn literal(&mut self, b: u8) {
        if b == b'\n' || b == b'\r' {
            // The CR of a CRLF has already broken the line.
            if self.cr && b == b'\n' {
                self.cr = false;
                return;
            }
            if b == b'\r' {
                self.cr = true;
            }
            self.encode_last_space();
            self.line_break();
            return;
        }
        if self.line.len() == LINE_MAX - 1 {
            self.soft_break();
        }
        self.line.push(b);
        self.cr = false;
    }

    // As Go's, encoding leaves `cr` as it is: "\r=\n" is one line break.
    fn encode(&mut self, b: u8) {
        if LINE_MAX - 1 - self.line.len() < 3 {
            self.soft_break();
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        self.line
            .extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
    }

    fn encode_last_space(&mut self) {
        if let Some(&last) = self.line.last()
            && (last == b' ' || last == b'\t')
        {
            self.line.pop();
            self.encode(last);
        }
    }

    fn soft_break(&mut self) {
        self.line.push(b'=');
        self.line_break();
    }

    fn line_break(&mut self) {
        self.line.extend_from_slice(b"\r\n");
        self.flush();
    }

    fn flush(&mut self) {
        self.out.append(&mut self.line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qp(input: &str) -> String {
        let mut writer = QuotedPrintable::new(Vec::new());
        writer.write(input.as_bytes());
        String::from_utf8(writer.close()).unwrap()
    }

    #[test]
    fn quoted_printable_is_gos() {
        // Cases of Go's mime/quotedprintable writer tests (text mode).
        let cases = [
            ("", ""),
            ("foo bar", "foo bar"),
            ("foo bar=", "foo bar=3D"),
            ("foo bar\r", "foo bar\r\n"),
            ("foo bar\r\r", "foo bar\r\n\r\n"),
            ("foo bar\n", "foo bar\r\n"),
            ("foo bar\r\n", "foo bar\r\n"),
            ("foo bar\r\r\n", "foo bar\r\n\r\n"),
            ("foo bar ", "foo bar=20"),
            ("foo bar\t", "foo bar=09"),
            ("foo bar  ", "foo bar =20"),
            ("foo bar \n", "foo bar=20\r\n"),
            ("foo bar \r", "foo bar=20\r\n"),
            ("foo bar \r\n", "foo bar=20\r\n"),
            ("foo bar  \n", "foo bar =20\r\n"),
            ("foo bar  \n ", "foo bar =20\r\n=20"),
            ("¡Hola Señor!", "=C2=A1Hola Se=C3=B1or!"),
            (
                "\t !\"#$%&'()*+,-./ :;<>?@[\\]^_`{|}~",
                "\t !\"#$%&'()*+,-./ :;<>?@[\\]^_`{|}~",
            ),
            ("Foo\tBar", "Foo\tBar"),
            ("\r=\n", "\r\n=3D"),
        ];
        for (input, expected) in cases {
            assert_eq!(qp(input), expected, "{input:?}");
        }
        let a = |n: usize| "a".repeat(n);
        let long_cases = [
            (a(75), a(75)),
            (a(76), format!("{}=\r\na", a(75))),
            (format!("{}=", a(72)), format!("{}=3D", a(72))),
            (format!("{}=", a(73)), format!("{}=\r\n=3D", a(73))),
            (format!("{} ", a(74)), format!("{}=\r\n=20", a(74))),
            (format!("{}\n{}", a(75), a(2)), format!("{}\r\naa", a(75))),
        ];
        for (input, expected) in long_cases {
            assert_eq!(qp(&input), expected, "{input:?}");
        }
    }

    #[test]
    fn headers_are_q_encoded_as_go_does() {
        assert_eq!(q_encode("cpu:nil is CRITICAL"), "cpu:nil is CRITICAL");
        assert_eq!(q_encode("tab\tok"), "tab\tok");
        assert_eq!(q_encode("café"), "=?UTF-8?q?caf=C3=A9?=");
        assert_eq!(q_encode("a_b =? c\n"), "=?UTF-8?q?a=5Fb_=3D=3F_c=0A?=");
        // 63 characters fit in a word; a character is never split between two.
        let long = format!("{}é", "a".repeat(61));
        assert_eq!(
            q_encode(&long),
            format!("=?UTF-8?q?{}?= =?UTF-8?q?=C3=A9?=", "a".repeat(61))
        );
    }

    #[test]
    fn long_headers_fold_as_gomail_does() {
        let mut out = String::new();
        let to = [
            "oncall-primary@example.com",
            "oncall-secondary@example.com",
            "oncall-tertiary@example.com",
        ];
        write_header(&mut out, "To", &to);
        // gomail folds only at spaces inside a value, never between two values.
        assert_eq!(
            out,
            "To: oncall-primary@example.com, oncall-secondary@example.com, oncall-tertiary@example.com\r\n"
        );
        let mut out = String::new();
        let subject = "word ".repeat(20);
        write_header(&mut out, "Subject", &[subject.trim_end()]);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], format!("Subject: {}", ["word"; 13].join(" ")));
        assert!(lines[1].starts_with(" word"), "{out:?}");
        assert_eq!(
            out.replace("\r\n ", " "),
            format!("Subject: {}\r\n", subject.trim_end())
        );
    }

    /// `TestStream_AlertEmail`'s message: the headers and body Kapacitor's test expects.
    #[test]
    fn kapacitors_email_is_written_as_gomail_writes_it() {
        let to = [
            "user1@example.com".to_owned(),
            "user2@example.com".to_owned(),
        ];
        let email = Email {
            from: "test@example.com",
            to: &to,
            subject: "kapacitor.cpu.serverA is CRITICAL",
            body: "\n<b>kapacitor.cpu.serverA is CRITICAL</b>\n\nValue: 10\n<a href=\"http://graphs.example.com/host/serverA\">Details</a>\n",
            date: "Fri, 01 Jan 1971 00:00:10 +0000",
            message_id: "<1.2@example.com>",
        };
        assert_eq!(
            String::from_utf8(email.to_bytes()).unwrap(),
            concat!(
                "Mime-Version: 1.0\r\n",
                "Date: Fri, 01 Jan 1971 00:00:10 +0000\r\n",
                "Message-ID: <1.2@example.com>\r\n",
                "From: test@example.com\r\n",
                "To: user1@example.com, user2@example.com\r\n",
                "Subject: kapacitor.cpu.serverA is CRITICAL\r\n",
                "Content-Type: text/html; charset=UTF-8\r\n",
                "Content-Transfer-Encoding: quoted-printable\r\n",
                "\r\n",
                "\r\n<b>kapacitor.cpu.serverA is CRITICAL</b>\r\n\r\nValue: 10\r\n",
                "<a href=3D\"http://graphs.example.com/host/serverA\">Details</a>",
            )
        );
    }
}
