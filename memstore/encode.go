package memstore

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/authcapture/authcapture"
)

// The store keeps compact forms of what it is given: enum-like strings as
// small codes, times as Unix nanoseconds, and events and idempotency records
// by reference to their authorization and log entry instead of copies of
// its strings. Whatever does not fit a compact form (a time outside the
// years 1678 to 2262, more distinct strings than a table holds, a record
// that names another authorization, ...) is kept whole beside it, so every
// value comes back as it was written; only times come back in UTC.

// tZero is the encoding of the zero time.Time.
const tZero int64 = math.MinInt64

// maxUnixSec bounds the seconds of times whose Unix nanoseconds fit an
// int64.
const maxUnixSec = math.MaxInt64/1_000_000_000 - 1

// encTime returns t in Unix nanoseconds, or ok false if t has no such
// encoding (conservatively: a time within a second of the int64 range has
// none either).
func encTime(t time.Time) (n int64, ok bool) {
	if t.IsZero() {
		return tZero, true
	}
	if sec := t.Unix(); sec < -maxUnixSec || sec > maxUnixSec {
		return 0, false
	}
	return t.UnixNano(), true
}

// decTime returns the time n encodes, in UTC.
func decTime(n int64) time.Time {
	if n == tZero {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// table interns the strings of one enum-like field as codes. Code 0 is the
// empty string; the known values follow in the order given; unknown strings
// are added as they come, up to limit codes in all.
type table struct {
	names []string
	codes map[string]int // once names outgrows a linear scan
	limit int
	last  int // the code code returned last, tried first
}

const linearScan = 16

func newTable(limit int, known ...string) *table {
	t := &table{limit: limit}
	t.names = append(make([]string, 0, len(known)+1), "")
	for _, s := range known {
		t.code(s)
	}
	return t
}

// code returns the code of s, adding s if it is new; ok is false if the
// table is full.
func (t *table) code(s string) (int, bool) {
	if t.names[t.last] == s {
		return t.last, true
	}
	if t.codes == nil {
		for i, n := range t.names {
			if n == s {
				t.last = i
				return i, true
			}
		}
	} else if c, ok := t.codes[s]; ok {
		t.last = c
		return c, true
	}
	if len(t.names) >= t.limit {
		return 0, false
	}
	t.names = append(t.names, s)
	c := len(t.names) - 1
	t.last = c
	switch {
	case t.codes != nil:
		t.codes[s] = c
	case len(t.names) > linearScan:
		t.codes = make(map[string]int, 2*len(t.names))
		for i, n := range t.names {
			t.codes[n] = i
		}
	}
	return c, true
}

// set8 stores the code of s in *c, keeping it if it already names s.
func (t *table) set8(c *uint8, s string) bool {
	if t.names[*c] == s {
		return true
	}
	n, ok := t.code(s)
	*c = uint8(n)
	return ok
}

// set16 is set8 for wider codes.
func (t *table) set16(c *uint16, s string) bool {
	if t.names[*c] == s {
		return true
	}
	n, ok := t.code(s)
	*c = uint16(n)
	return ok
}

// tables holds the string tables of a store.
type tables struct {
	currencies, policies, phases, closeReasons *table
	captureModes, cancelModes, expiryActions   *table
	rules                                      *table
	kinds, captureStates, reasons              *table
	eventTypes, statuses, ops                  *table
}

func newTables() tables {
	const small = math.MaxUint8 + 1
	return tables{
		currencies: newTable(small, "USD", "EUR", "GBP", "JPY"),
		policies:   newTable(small, "default"),
		phases: newTable(small, string(authcapture.PhaseCreated), string(authcapture.PhasePending),
			string(authcapture.PhaseDeclined), string(authcapture.PhaseCanceled), string(authcapture.PhaseApproved)),
		closeReasons: newTable(small, string(authcapture.CloseFullyCaptured), string(authcapture.CloseFinalCapture),
			string(authcapture.CloseVoided), string(authcapture.CloseExpired), string(authcapture.CloseDeclined),
			string(authcapture.CloseCanceled)),
		captureModes: newTable(small, string(authcapture.CaptureManual), string(authcapture.CaptureAutomatic),
			string(authcapture.CaptureDelayed)),
		cancelModes:   newTable(small, string(authcapture.CancelManual), string(authcapture.CancelDelayed)),
		expiryActions: newTable(small, string(authcapture.ExpiryRelease), string(authcapture.ExpiryCapture)),
		rules:         newTable(math.MaxUint16+1, "explicit"),
		kinds: newTable(small, string(authcapture.EntryCreated), string(authcapture.EntryPending),
			string(authcapture.EntryAuthorized), string(authcapture.EntryDeclined), string(authcapture.EntryCanceled),
			string(authcapture.EntryCapture), string(authcapture.EntryVoid), string(authcapture.EntryExpiry)),
		captureStates: newTable(small, string(authcapture.CapturePending), string(authcapture.CaptureSucceeded),
			string(authcapture.CaptureFailed)),
		reasons: newTable(small, string(authcapture.ReasonRequestedByCustomer), string(authcapture.ReasonFraudulent),
			string(authcapture.ReasonDuplicate), string(authcapture.ReasonAbandoned), string(authcapture.ReasonFinalCapture),
			string(authcapture.ReasonExpired), string(authcapture.ReasonCaptureFailed), string(authcapture.ReasonScheduledCancel),
			string(authcapture.ReasonScheduledCapture), string(authcapture.ReasonAutomaticCapture)),
		eventTypes: newTable(small, string(authcapture.EventCreated), string(authcapture.EventPending),
			string(authcapture.EventAuthorized), string(authcapture.EventDeclined), string(authcapture.EventCanceled),
			string(authcapture.EventVoided), string(authcapture.EventExpired), string(authcapture.EventAmountCapturableUpdated),
			string(authcapture.EventCapturePending), string(authcapture.EventCaptureSucceeded), string(authcapture.EventCaptureFailed)),
		statuses: newTable(small, string(authcapture.StatusRequiresAuthorization), string(authcapture.StatusPending),
			string(authcapture.StatusDeclined), string(authcapture.StatusCanceled), string(authcapture.StatusAuthorized),
			string(authcapture.StatusPartiallyCaptured), string(authcapture.StatusCaptured), string(authcapture.StatusVoided),
			string(authcapture.StatusExpired)),
		ops: newTable(small, string(authcapture.CmdCreate), string(authcapture.CmdMarkPending), string(authcapture.CmdAuthorize),
			string(authcapture.CmdDecline), string(authcapture.CmdCancel), string(authcapture.CmdCapture),
			string(authcapture.CmdBeginCapture), string(authcapture.CmdConfirmCapture), string(authcapture.CmdFailCapture),
			string(authcapture.CmdVoid)),
	}
}

// record is the stored form of one authorization.
type record struct {
	id        string
	m         *merchant
	reference string
	x         *extra // the fields that are usually zero, and the fallback
	log       entryLog

	requested, authorized, captured, pending, voided, expired int64
	version                                                   int64

	created, authorizedAt, expiresAt, expiredAt, closedAt int64 // encTime

	events   uint32 // Authorization.Events
	rid      uint32 // number in Store.recs
	heapIdx  int32  // index in Store.due, or -1
	captures uint16
	rule     uint16

	currency, policy, phase, closeReason, captureMode, cancelMode, expiryAction uint8
}

// extra holds the fields of an authorization that are usually zero. If
// full is set, the authorization did not fit the compact form and full is
// its stored copy; the record's own fields then serve only the store's
// bookkeeping (version, log, due index).
type extra struct {
	metadata        map[string]string
	pending         []authcapture.PendingCapture
	captureDelay    time.Duration
	cancelDelay     time.Duration
	captureAt       time.Time // UTC
	cancelAt        time.Time // UTC
	captureFailures int
	full            *authcapture.Authorization
}

func (r *record) full() *authcapture.Authorization {
	if r.x == nil {
		return nil
	}
	return r.x.full
}

// setAuth stores in as r's state. r.entries already holds the write's
// entries.
func (s *Store) setAuth(r *record, in *authcapture.Authorization) {
	t := &s.tables
	ok := in.Entries == int64(r.log.len()) &&
		in.Events >= 0 && in.Events <= math.MaxUint32 &&
		in.Captures >= 0 && in.Captures <= math.MaxUint16
	r.reference = in.Reference
	r.requested, r.authorized, r.captured = in.Requested, in.Authorized, in.Captured
	r.pending, r.voided, r.expired = in.Pending, in.Voided, in.Expired
	r.version = in.Version
	r.events = uint32(in.Events)
	r.captures = uint16(in.Captures)

	var ok1, ok2, ok3, ok4, ok5 bool
	r.created, ok1 = encTime(in.CreatedAt)
	r.authorizedAt, ok2 = encTime(in.AuthorizedAt)
	r.expiresAt, ok3 = encTime(in.ExpiresAt)
	r.expiredAt, ok4 = encTime(in.ExpiredAt)
	r.closedAt, ok5 = encTime(in.ClosedAt)
	ok = ok && ok1 && ok2 && ok3 && ok4 && ok5
	if _, due := encTime(in.NextDue); !due {
		ok = false
	}

	ok = t.currencies.set8(&r.currency, string(in.Currency)) && ok
	ok = t.policies.set8(&r.policy, in.Policy) && ok
	ok = t.phases.set8(&r.phase, string(in.Phase)) && ok
	ok = t.closeReasons.set8(&r.closeReason, string(in.CloseReason)) && ok
	ok = t.captureModes.set8(&r.captureMode, string(in.CaptureMode)) && ok
	ok = t.cancelModes.set8(&r.cancelMode, string(in.CancelMode)) && ok
	ok = t.expiryActions.set8(&r.expiryAction, string(in.ExpiryAction)) && ok
	ok = t.rules.set16(&r.rule, in.ExpiryRule) && ok

	if ok && len(in.Metadata) == 0 && len(in.PendingCaptures) == 0 && in.CaptureDelay == 0 &&
		in.CancelDelay == 0 && in.CaptureAt.IsZero() && in.CancelAt.IsZero() && in.CaptureFailures == 0 {
		r.x = nil
		return
	}
	x := r.x
	if x == nil {
		x = new(extra)
		r.x = x
	}
	meta := x.metadata
	switch {
	case len(in.Metadata) == 0:
		meta = nil
	case maps.Equal(meta, in.Metadata):
		// the stored map is never handed out, so it can be kept
	default:
		meta = maps.Clone(in.Metadata)
	}
	*x = extra{
		metadata:        meta,
		captureDelay:    in.CaptureDelay,
		cancelDelay:     in.CancelDelay,
		captureAt:       utc(in.CaptureAt),
		cancelAt:        utc(in.CancelAt),
		captureFailures: in.CaptureFailures,
	}
	if len(in.PendingCaptures) > 0 {
		x.pending = slices.Clone(in.PendingCaptures)
	}
	if !ok {
		a := *in
		a.Metadata = x.metadata
		a.PendingCaptures = x.pending
		a.CaptureAt, a.CancelAt = x.captureAt, x.cancelAt
		a.CreatedAt, a.AuthorizedAt, a.ExpiresAt = utc(a.CreatedAt), utc(a.AuthorizedAt), utc(a.ExpiresAt)
		a.ExpiredAt, a.ClosedAt, a.NextDue = utc(a.ExpiredAt), utc(a.ClosedAt), utc(a.NextDue)
		x.full = &a
	}
}

// utc returns t in UTC, keeping the zero time as it is.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// auth returns a fresh copy of r's authorization.
func (s *Store) auth(r *record) *authcapture.Authorization {
	if f := r.full(); f != nil {
		return f.Clone()
	}
	t := &s.tables
	a := &authcapture.Authorization{
		ID:           r.id,
		MerchantID:   r.m.id,
		Reference:    r.reference,
		Currency:     authcapture.Currency(t.currencies.names[r.currency]),
		Policy:       t.policies.names[r.policy],
		Phase:        authcapture.Phase(t.phases.names[r.phase]),
		Requested:    r.requested,
		Authorized:   r.authorized,
		Captured:     r.captured,
		Pending:      r.pending,
		Voided:       r.voided,
		Expired:      r.expired,
		Captures:     int(r.captures),
		CloseReason:  authcapture.CloseReason(t.closeReasons.names[r.closeReason]),
		CaptureMode:  authcapture.CaptureMode(t.captureModes.names[r.captureMode]),
		CancelMode:   authcapture.CancelMode(t.cancelModes.names[r.cancelMode]),
		ExpiryAction: authcapture.ExpiryAction(t.expiryActions.names[r.expiryAction]),
		CreatedAt:    decTime(r.created),
		AuthorizedAt: decTime(r.authorizedAt),
		ExpiresAt:    decTime(r.expiresAt),
		ExpiryRule:   t.rules.names[r.rule],
		ExpiredAt:    decTime(r.expiredAt),
		ClosedAt:     decTime(r.closedAt),
		Version:      r.version,
		Entries:      int64(r.log.len()),
		Events:       int64(r.events),
	}
	if r.heapIdx >= 0 {
		a.NextDue = decTime(s.due[r.heapIdx].at)
	}
	if x := r.x; x != nil {
		if x.metadata != nil {
			a.Metadata = maps.Clone(x.metadata)
		}
		if x.pending != nil {
			a.PendingCaptures = slices.Clone(x.pending)
		}
		a.CaptureDelay, a.CancelDelay = x.captureDelay, x.cancelDelay
		a.CaptureAt, a.CancelAt = x.captureAt, x.cancelAt
		a.CaptureFailures = x.captureFailures
	}
	return a
}

// entry is the stored form of a log entry; its Seq is its index plus one.
type entry struct {
	at        int64 // encTime
	amount    int64
	key       string
	captureID string
	x         *entryExtra // nil unless the entry has a reference or did not fit
	version   uint32
	kind      uint8
	state     uint8
	reason    uint8
	final     bool
}

// entryExtra holds an entry's reference, and the whole entry if it did not
// fit the compact form.
type entryExtra struct {
	reference string
	full      *authcapture.Entry
}

// compact reports whether e's own fields hold it.
func (e *entry) compact() bool { return e.x == nil || e.x.full == nil }

func (s *Store) encEntry(in *authcapture.Entry) entry {
	t := &s.tables
	e := entry{amount: in.Amount, key: in.IdempotencyKey, captureID: in.CaptureID, final: in.Final}
	var ok bool
	e.at, ok = encTime(in.At)
	ok = ok && in.Version >= 0 && in.Version <= math.MaxUint32
	e.version = uint32(in.Version)
	ok = t.kinds.set8(&e.kind, string(in.Kind)) && ok
	ok = t.captureStates.set8(&e.state, string(in.CaptureState)) && ok
	ok = t.reasons.set8(&e.reason, string(in.Reason)) && ok
	if in.Reference != "" || !ok {
		e.x = &entryExtra{reference: in.Reference}
		if !ok {
			c := *in
			c.At = utc(c.At)
			e.x.full = &c
		}
	}
	return e
}

func (s *Store) decEntry(e *entry, seq int64) authcapture.Entry {
	if !e.compact() {
		return *e.x.full
	}
	t := &s.tables
	out := authcapture.Entry{
		Seq:            seq,
		Version:        int64(e.version),
		Kind:           authcapture.EntryKind(t.kinds.names[e.kind]),
		CaptureState:   authcapture.CaptureState(t.captureStates.names[e.state]),
		CaptureID:      e.captureID,
		Final:          e.final,
		Amount:         e.amount,
		At:             decTime(e.at),
		IdempotencyKey: e.key,
		Reason:         authcapture.Reason(t.reasons.names[e.reason]),
	}
	if e.x != nil {
		out.Reference = e.x.reference
	}
	return out
}

// appendEntries adds es to r's log.
func (s *Store) appendEntries(r *record, es []authcapture.Entry) {
	r.log.reserve(len(es))
	for i := range es {
		r.log.add(s.encEntry(&es[i]))
	}
}

// entryLog is an authorization's log. Its first logChunk entries are kept
// in one slice that grows with exact capacity while it is short, as most
// logs are, and by doubling after; later entries go to chunks of logChunk
// that are never copied.
type entryLog struct {
	head []entry
	more *[][]entry
}

const logChunk = 32

func (l *entryLog) len() int {
	if l.more == nil {
		return len(l.head)
	}
	m := *l.more
	return logChunk*len(m) + len(m[len(m)-1])
}

// at returns entry i (Seq i+1).
func (l *entryLog) at(i int) *entry {
	if i < logChunk {
		return &l.head[i]
	}
	i -= logChunk
	return &(*l.more)[i/logChunk][i%logChunk]
}

// reserve makes room in the head for k more entries at once.
func (l *entryLog) reserve(k int) {
	need := min(len(l.head)+k, logChunk)
	if need <= cap(l.head) {
		return
	}
	c := need
	if need > 8 {
		c = min(max(need, 2*len(l.head)), logChunk)
	}
	head := make([]entry, len(l.head), c)
	copy(head, l.head)
	l.head = head
}

func (l *entryLog) add(e entry) {
	if len(l.head) < logChunk {
		l.reserve(1)
		l.head = append(l.head, e)
		return
	}
	if l.more == nil {
		l.more = new([][]entry)
	}
	m := *l.more
	if len(m) == 0 || len(m[len(m)-1]) == logChunk {
		m = append(m, make([]entry, 0, logChunk))
		*l.more = m
	}
	m[len(m)-1] = append(m[len(m)-1], e)
}

// logEntry returns the compact entry of r with the given seq, or nil if
// there is none or it is not compact.
func (r *record) logEntry(seq int64) *entry {
	if seq < 1 || seq > int64(r.log.len()) {
		return nil
	}
	e := r.log.at(int(seq - 1))
	if !e.compact() {
		return nil
	}
	return e
}

// event is the stored form of an event. Its merchant and authorization are
// those of the record rid names, its Version and At those of that record's
// log entry EntrySeq, and its Amount that entry's amount or the event's
// Open (amountIsOpen), and its CaptureID, Reference and Reason those of
// that entry (detail) or empty; an event for which that does not hold has
// rid 0 and is kept whole in its merchant's spill.
type event struct {
	pos          int64
	open         int64
	rid          uint32
	seq          uint32
	entrySeq     uint32
	typ          uint8
	status       uint8
	closeReason  uint8
	amountIsOpen bool
	detail       bool
}

// idem is the stored form of an idempotency record, in its merchant's key
// table. Its AuthorizationID is that of the record rid names, and its Key,
// Version and CreatedAt those of that record's log entry EntrySeq; a record
// for which that does not hold (or whose EntrySeq does not fit 24 bits) has
// rid 0 and is kept whole in its merchant's spill.
type idem struct {
	fp    uint64
	rid   uint32
	seqOp uint32 // EntrySeq<<8 | the code of Op
}

const maxIdemSeq = 1<<24 - 1

func (c *idem) entrySeq() uint32 { return c.seqOp >> 8 }

// spill keeps whole what does not fit the compact forms.
type spill struct {
	keys   map[uint32]*authcapture.IdempotencyRecord // by slot in merchant.keyed
	events map[int64]*authcapture.Event              // by position
}

func (m *merchant) spilled() *spill {
	if m.spill == nil {
		m.spill = &spill{keys: map[uint32]*authcapture.IdempotencyRecord{}, events: map[int64]*authcapture.Event{}}
	}
	return m.spill
}

// refEntry returns r's compact log entry seq if it agrees with version and
// at, which a compact event or idempotency record then need not repeat.
func refEntry(r *record, seq, version int64, at time.Time) (*entry, bool) {
	if seq > math.MaxUint32 {
		return nil, false
	}
	e := r.logEntry(seq)
	if e == nil || int64(e.version) != version {
		return nil, false
	}
	n, ok := encTime(at)
	return e, ok && n == e.at
}

// putKey records in under m's keys; h is the hash of in.Key.
func (s *Store) putKey(m *merchant, r *record, in *authcapture.IdempotencyRecord, h uint32) {
	c := idem{fp: in.Fingerprint}
	ok := m == r.m && in.AuthorizationID == r.id && in.EntrySeq <= maxIdemSeq
	if ok {
		var e *entry
		e, ok = refEntry(r, in.EntrySeq, in.Version, in.CreatedAt)
		ok = ok && e.key == in.Key
	}
	if ok {
		op, known := s.tables.ops.code(in.Op)
		ok = known
		c.rid = r.rid
		c.seqOp = uint32(in.EntrySeq)<<8 | uint32(uint8(op))
	}
	slot := uint32(m.keyed.n)
	if !ok {
		full := *in
		full.CreatedAt = utc(full.CreatedAt)
		m.spilled().keys[slot] = &full
		c = idem{}
	}
	m.keyed.add(c)
	m.keys.insert(h, slot+1)
}

// findKey returns the slot of key in m's key table, or -1.
func (s *Store) findKey(m *merchant, key string, h uint32) int {
	ref := m.keys.lookup(h, func(ref uint32) bool { return s.keyAt(m, ref-1) == key })
	return int(ref) - 1
}

// keyAt returns the key in slot i of m's key table.
func (s *Store) keyAt(m *merchant, i uint32) string {
	c := m.keyed.at(int(i))
	if c.rid == 0 {
		return m.spill.keys[i].Key
	}
	return s.recs.get(c.rid).log.at(int(c.entrySeq()) - 1).key
}

func (s *Store) getKey(m *merchant, i int) *authcapture.IdempotencyRecord {
	c := m.keyed.at(i)
	if c.rid == 0 {
		rec := *m.spill.keys[uint32(i)]
		return &rec
	}
	r := s.recs.get(c.rid)
	seq := c.entrySeq()
	e := r.log.at(int(seq) - 1)
	return &authcapture.IdempotencyRecord{
		MerchantID:      m.id,
		Key:             e.key,
		Op:              s.tables.ops.names[uint8(c.seqOp)],
		Fingerprint:     c.fp,
		AuthorizationID: r.id,
		Version:         int64(e.version),
		EntrySeq:        int64(seq),
		CreatedAt:       decTime(e.at),
	}
}

func (s *Store) addEvent(m *merchant, r *record, in *authcapture.Event, pos int64) {
	t := &s.tables
	c := event{pos: pos, open: in.Open}
	ok := m == r.m && in.AuthorizationID == r.id && in.Seq >= 0 && in.Seq <= math.MaxUint32
	if ok {
		var e *entry
		e, ok = refEntry(r, in.EntrySeq, in.Version, in.At)
		switch {
		case !ok:
		case in.Amount == e.amount:
		case in.Amount == in.Open:
			c.amountIsOpen = true
		default:
			ok = false
		}
		if ok {
			d := s.decEntry(e, in.EntrySeq)
			switch {
			case in.CaptureID == "" && in.Reference == "" && in.Reason == "":
			case in.CaptureID == d.CaptureID && in.Reference == d.Reference && in.Reason == d.Reason:
				c.detail = true
			default:
				ok = false
			}
		}
	}
	if ok {
		ok = t.eventTypes.set8(&c.typ, string(in.Type))
		ok = t.statuses.set8(&c.status, string(in.Status)) && ok
		ok = t.closeReasons.set8(&c.closeReason, string(in.CloseReason)) && ok
		c.rid = r.rid
		c.seq = uint32(in.Seq)
		c.entrySeq = uint32(in.EntrySeq)
	}
	if !ok {
		full := *in
		full.Position = pos
		full.At = utc(full.At)
		m.spilled().events[pos] = &full
		c = event{pos: pos}
	}
	m.events.add(c)
}

func (s *Store) decEvent(m *merchant, c *event) authcapture.Event {
	if c.rid == 0 {
		return *m.spill.events[c.pos]
	}
	t := &s.tables
	r := s.recs.get(c.rid)
	e := r.log.at(int(c.entrySeq) - 1)
	amount := e.amount
	if c.amountIsOpen {
		amount = c.open
	}
	var d authcapture.Entry
	if c.detail {
		d = s.decEntry(e, int64(c.entrySeq))
	}
	return authcapture.Event{
		Position:        c.pos,
		MerchantID:      r.m.id,
		AuthorizationID: r.id,
		Seq:             int64(c.seq),
		Version:         int64(e.version),
		Type:            authcapture.EventType(t.eventTypes.names[c.typ]),
		At:              decTime(e.at),
		EntrySeq:        int64(c.entrySeq),
		Amount:          amount,
		Open:            c.open,
		Status:          authcapture.Status(t.statuses.names[c.status]),
		CaptureID:       d.CaptureID,
		Reference:       d.Reference,
		Reason:          d.Reason,
		CloseReason:     authcapture.CloseReason(t.closeReasons.names[c.closeReason]),
	}
}
