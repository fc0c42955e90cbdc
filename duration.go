package authcapture

import (
	"fmt"
	"strconv"
	"time"
)

// ParseDelay parses a schedule delay written as an ISO 8601 duration, such
// as "PT5M", "PT1H30M", "P1DT2H", "P2W" or "PT0.5S". Days are 24 hours and
// weeks 7 days. Years and months are rejected because their length depends
// on the calendar; so are zero, negative, malformed and overlong (above 90
// days) delays. Errors wrap ErrInvalidSchedule.
func ParseDelay(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("authcapture: delay %q: %s: %w", truncate(s, 40), why, ErrInvalidSchedule)
	}
	if len(s) < 3 || len(s) > 40 || s[0] != 'P' {
		return bad("not an ISO 8601 duration such as PT5M")
	}
	var total time.Duration
	inTime := false
	last := -1 // designators must come in order W D H M S, each once
	rest := s[1:]
	if rest == "T" || rest[len(rest)-1] == 'T' {
		return bad("T without a time part")
	}
	for len(rest) > 0 {
		if rest[0] == 'T' {
			if inTime {
				return bad("two T designators")
			}
			inTime = true
			rest = rest[1:]
			continue
		}
		i := 0
		dot := false
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' && !dot) {
			if rest[i] == '.' {
				dot = true
			}
			i++
		}
		if i == 0 || i == len(rest) {
			return bad("a number must precede each designator")
		}
		num, unit := rest[:i], rest[i]
		rest = rest[i+1:]
		var scale time.Duration
		order := 0
		switch {
		case !inTime && unit == 'W':
			scale, order = 7*24*time.Hour, 0
		case !inTime && unit == 'D':
			scale, order = 24*time.Hour, 1
		case inTime && unit == 'H':
			scale, order = time.Hour, 2
		case inTime && unit == 'M':
			scale, order = time.Minute, 3
		case inTime && unit == 'S':
			scale, order = time.Second, 4
		case !inTime && (unit == 'Y' || unit == 'M'):
			return bad("years and months have no fixed length; use days")
		default:
			return bad(fmt.Sprintf("unexpected designator %q", unit))
		}
		if order <= last {
			return bad("designators repeat or are out of order")
		}
		last = order
		if dot && unit != 'S' {
			return bad("only seconds may have a fraction")
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || num[len(num)-1] == '.' || num[0] == '.' {
			return bad("malformed number")
		}
		if f > float64(maxValidity/scale)+1 {
			return bad("longer than 90 days")
		}
		if dot {
			// Seconds with a fraction: exact to the nanosecond.
			whole, frac, _ := cutDot(num)
			w, _ := strconv.ParseInt(whole, 10, 64)
			if len(frac) > 9 {
				return bad("more than nanosecond precision")
			}
			fr, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
			total += time.Duration(w)*time.Second + time.Duration(fr)
		} else {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return bad("malformed number")
			}
			total += time.Duration(n) * scale
		}
		if total > maxValidity {
			return bad("longer than 90 days")
		}
	}
	if total <= 0 {
		return bad("must be positive")
	}
	return total, nil
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// FormatDelay writes d as an ISO 8601 duration, the inverse of ParseDelay
// for positive delays.
func FormatDelay(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	out := "P"
	if days := d / (24 * time.Hour); days > 0 {
		out += strconv.FormatInt(int64(days), 10) + "D"
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return out
	}
	out += "T"
	if h := d / time.Hour; h > 0 {
		out += strconv.FormatInt(int64(h), 10) + "H"
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		out += strconv.FormatInt(int64(m), 10) + "M"
		d -= m * time.Minute
	}
	if d > 0 {
		sec := d / time.Second
		ns := d % time.Second
		if ns == 0 {
			out += strconv.FormatInt(int64(sec), 10) + "S"
		} else {
			frac := strconv.FormatInt(int64(ns)+1e9, 10)[1:]
			for frac[len(frac)-1] == '0' {
				frac = frac[:len(frac)-1]
			}
			out += strconv.FormatInt(int64(sec), 10) + "." + frac + "S"
		}
	}
	return out
}
