package fmtlite

// Quoting without strconv's Unicode tables.

// AppendQuote appends s to b as a double-quoted Go string literal, like
// strconv.AppendQuote for ASCII, with every byte outside printable ASCII
// written as \xNN (\t, \n and \r as such). What it quotes comes from the
// outside (a file's line, a flag's value), so a terminal escape or a
// look-alike letter shows as bytes, never as itself.
//
// NB: strconv.Quote keeps printable Unicode, and the tables it needs for
// that cost about 10 KB of the MIPS binary, which has less to spare.
func AppendQuote(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Quote returns s quoted as AppendQuote does.
func Quote(s string) string { return string(AppendQuote(make([]byte, 0, len(s)+2), s)) }
