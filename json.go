package main

// JSON output of -l and -s with -j, written by hand: encoding/json and the
// reflection it brings would not fit the mips binary's budget. The shapes
// are documented in doc/arpd.8 (JSON OUTPUT) and the README; tests parse
// the output with encoding/json.

import (
	"strconv"
	"unicode/utf8"

	"arpd/internal/cache"
)

// outBuf builds the documents of -j and -m. Its methods are not inlined:
// each piece costs a call, where inlined appends cost hundreds of bytes
// of the mips binary each.
type outBuf []byte

// The escaping modes of outBuf.esc.
const (
	escJSON      = iota // a JSON string's contents
	escPromHelp         // a Prometheus HELP text
	escPromLabel        // a Prometheus label value
)

// esc appends s escaped for mode. In every mode a backslash and a line
// feed are escaped (\\, \n), and a double quote (\") except in a HELP
// text; in JSON the other control characters become \u00XX. Each byte
// that is not part of valid UTF-8 becomes U+FFFD, as encoding/json does:
// both formats are UTF-8, and a database path or an interface name may
// hold any byte but NUL (and '/' for a name).
//
//go:noinline
func (b *outBuf) esc(s string, mode int) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.raw("\ufffd")
			} else {
				b.raw(s[i : i+size])
			}
			i += size - 1
		case c == '\\' || c == '"' && mode != escPromHelp:
			b.raw("\\")
			b.raw(s[i : i+1])
		case c == '\n':
			b.raw(`\n`)
		case c < 0x20 && mode == escJSON:
			b.raw(`\u00`)
			b.raw(hexDigits[c>>4 : c>>4+1])
			b.raw(hexDigits[c&15 : c&15+1])
		default:
			b.raw(s[i : i+1])
		}
	}
}

// key appends `"k":`, with a comma before it unless it is the first
// member of its object (the buffer then ends in '{'). Keys are the
// program's own constants: no escaping is needed.
//
//go:noinline
func (b *outBuf) key(k string) {
	if d := *b; len(d) > 0 && d[len(d)-1] != '{' {
		b.raw(",")
	}
	b.raw(`"`)
	b.raw(k)
	b.raw(`":`)
}

// raw appends s as it is.
//
//go:noinline
func (b *outBuf) raw(s string) { *b = append(*b, s...) }

// uint appends v in decimal.
//
//go:noinline
func (b *outBuf) uint(v uint64) { *b = strconv.AppendUint(*b, v, 10) }

// str appends the JSON member k with the string value v.
//
//go:noinline
func (b *outBuf) str(k, v string) {
	b.key(k)
	b.raw(`"`)
	b.esc(v, escJSON)
	b.raw(`"`)
}

// num appends the JSON member k with the number v.
//
//go:noinline
func (b *outBuf) num(k string, v uint64) {
	b.key(k)
	b.uint(v)
}

// lit appends the JSON member k with the literal v (null, true, false,
// or what opens a value the caller writes itself).
//
//go:noinline
func (b *outBuf) lit(k, v string) {
	b.key(k)
	b.raw(v)
}

// jsonFamily is the family of a cache key as ip -j names it.
func jsonFamily(family uint8) string {
	if family == cache.FamilyIPv6 {
		return "inet6"
	}
	return "inet"
}

// jsonSources name an entry's source (cache.Source) in -l -j, by value;
// 0 is an entry whose source was not recorded.
var jsonSources = [...]string{"unknown", "arp", "kernel", "load", "nd"}

// appendJSONEntry appends one entry of the -l -j listing to dst: an object
// with the members ifindex, family, dst, kind ("positive" or "negative"),
// lladdr (null for a negative entry), router, source, updated (Unix
// seconds) and age (seconds before now; a negative entry's is the age
// the text listing shows as "FAILED: Nsec ago"). It allocates nothing
// when dst has room.
func appendJSONEntry(dst []byte, e *cache.Entry, now int64) []byte {
	b := outBuf(append(dst, '{'))
	b.num("ifindex", uint64(e.Ifindex))
	b.str("family", jsonFamily(e.Family))
	b.lit("dst", `"`)
	b.addr(&e.Key)
	kind, lladdr := "positive", e.LLAddr[:min(int(e.LLLen), len(e.LLAddr))]
	if e.Kind == cache.KindNegative {
		kind, lladdr = "negative", nil
	}
	b.str("kind", kind)
	b.lit("lladdr", `"`)
	b.mac(lladdr)
	router := "false"
	if e.Router {
		router = "true"
	}
	b.lit("router", router)
	src := jsonSources[0]
	if int(e.Source) < len(jsonSources) {
		src = jsonSources[e.Source]
	}
	b.str("source", src)
	b.num("updated", uint64(e.Updated))
	b.key("age")
	b.int(now - int64(e.Updated))
	b.raw("}")
	return b
}

// addr appends k's address and the closing quote of its string.
//
//go:noinline
func (b *outBuf) addr(k *cache.Key) {
	*b = addrOf(k).AppendTo(*b)
	b.raw(`"`)
}

// mac appends a link-layer address and the closing quote of its string;
// none (nil) turns the opening quote before it into null.
//
//go:noinline
func (b *outBuf) mac(ll []byte) {
	if ll == nil {
		*b = append((*b)[:len(*b)-1], "null"...)
		return
	}
	*b = appendMAC(*b, ll)
	b.raw(`"`)
}

// int appends v in decimal.
//
//go:noinline
func (b *outBuf) int(v int64) { *b = strconv.AppendInt(*b, v, 10) }
