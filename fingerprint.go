package authcapture

// fingerprint hashes a command's parameters (FNV-1a, 64 bits) for its
// idempotency record. Fields are length-prefixed so that no two different
// parameter lists hash the same input.
type fingerprint uint64

func newFingerprint(op Command) fingerprint {
	return fingerprint(14695981039346656037).str(string(op))
}

func (f fingerprint) byte(b byte) fingerprint {
	f ^= fingerprint(b)
	f *= 1099511628211
	return f
}

func (f fingerprint) int(v int64) fingerprint {
	for i := 0; i < 8; i++ {
		f = f.byte(byte(v >> (8 * i)))
	}
	return f
}

func (f fingerprint) str(s string) fingerprint {
	f = f.int(int64(len(s)))
	for i := 0; i < len(s); i++ {
		f = f.byte(s[i])
	}
	return f
}

func (f fingerprint) bool(b bool) fingerprint {
	if b {
		return f.byte(1)
	}
	return f.byte(0)
}
