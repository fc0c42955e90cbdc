package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/authcapture/authcapture"
)

// Relay publishes the events of every merchant, read through
// Service.AllEvents, to a JetStream stream, and keeps the last position it
// published in a JetStream key-value bucket. Delivery is at least once: the
// position is saved only after the stream acknowledged every event up to
// it, so a relay that stops between the two publishes those events again
// when it starts. Each message carries a Nats-Msg-Id made of merchant,
// authorization and event sequence, so the stream drops such a repeat
// within its duplicate window; consumers that must never see one
// deduplicate on that ID too.
type Relay struct {
	Service *authcapture.Service
	JS      jetstream.JetStream

	Stream  string // the stream's name; it is created if missing
	Subject string // the subjects' prefix, such as "authcapture.events"
	Bucket  string // the key-value bucket of the position; created if missing
	Key     string // the position's key in Bucket; "position" if empty
	Batch   int    // events per read; 500 if 0
	// Poll is the wait after a read found nothing new; 200ms if 0.
	Poll time.Duration
	// Duplicates is the stream's duplicate window when the relay creates
	// it; 10 minutes if 0. It bounds how long a relay may be down between
	// a publish and the save of its position for the repeat to be dropped.
	Duplicates time.Duration

	// beforeSave, if set, runs after a batch was acknowledged and before
	// its position is saved; an error stops Run there (a crash, in tests).
	beforeSave func(position int64) error

	published, duplicates atomic.Int64
}

// Stats returns the events the stream stored and the repeats it dropped
// since the relay was made.
func (r *Relay) Stats() (published, duplicates int64) {
	return r.published.Load(), r.duplicates.Load()
}

// Subject returns the subject of ev under prefix:
// prefix.<merchant>.<type>, where the merchant ID is one token (every byte
// but A-Z a-z 0-9 _ - written as %XX, so that distinct IDs stay distinct)
// and the type's dot-separated words are tokens of their own, escaped the
// same way: "authcapture.events.m1.capture.succeeded". A consumer filters
// one merchant with prefix.m1.> or one kind of event with
// prefix.*.capture.>.
func Subject(prefix string, ev authcapture.Event) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(token(ev.MerchantID))
	for _, word := range strings.Split(string(ev.Type), ".") {
		b.WriteByte('.')
		b.WriteString(token(word))
	}
	return b.String()
}

// token escapes s into one subject token; an empty s is "%".
func token(s string) string {
	if s == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// MsgID returns the message ID of ev: merchant/authorization/seq. IDs hold
// no '/', so no two events share one.
func MsgID(ev authcapture.Event) string {
	return ev.MerchantID + "/" + ev.AuthorizationID + "/" + strconv.FormatInt(ev.Seq, 10)
}

// Run relays events until ctx ends or something fails, and returns why.
// It creates the stream and the bucket if they are missing and starts
// after the saved position (from the first event if none is saved). Run
// again after an error: it resumes from the last saved position.
func (r *Relay) Run(ctx context.Context) error {
	if r.Service == nil || r.JS == nil || r.Stream == "" || r.Subject == "" || r.Bucket == "" {
		return errors.New("relay: Service, JS, Stream, Subject and Bucket are required")
	}
	key, batch, poll, window := r.Key, r.Batch, r.Poll, r.Duplicates
	if key == "" {
		key = "position"
	}
	if batch == 0 {
		batch = 500
	}
	if poll == 0 {
		poll = 200 * time.Millisecond
	}
	if window == 0 {
		window = 10 * time.Minute
	}
	if err := r.ensureStream(ctx, window); err != nil {
		return err
	}
	kv, err := r.ensureBucket(ctx)
	if err != nil {
		return err
	}
	pos, rev, err := loadPosition(ctx, kv, key)
	if err != nil {
		return err
	}
	for {
		evs, err := r.Service.AllEvents(ctx, pos, batch)
		if err != nil {
			return fmt.Errorf("relay: reading events after %d: %w", pos, err)
		}
		if len(evs) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(poll):
			}
			continue
		}
		if err := r.publish(ctx, evs); err != nil {
			return err
		}
		next := evs[len(evs)-1].Position
		if r.beforeSave != nil {
			if err := r.beforeSave(next); err != nil {
				return err
			}
		}
		if rev, err = savePosition(ctx, kv, key, next, rev); err != nil {
			return err
		}
		pos = next
	}
}

// publish sends evs and waits until the stream acknowledged all of them.
func (r *Relay) publish(ctx context.Context, evs []authcapture.Event) error {
	acks := make([]jetstream.PubAckFuture, len(evs))
	for i, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("relay: encoding event %s: %w", MsgID(ev), err)
		}
		acks[i], err = r.JS.PublishAsync(Subject(r.Subject, ev), data,
			jetstream.WithMsgID(MsgID(ev)), jetstream.WithExpectStream(r.Stream))
		if err != nil {
			return fmt.Errorf("relay: publishing event %s: %w", MsgID(ev), err)
		}
	}
	for i, ack := range acks {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case pa := <-ack.Ok():
			if pa.Duplicate {
				r.duplicates.Add(1)
			} else {
				r.published.Add(1)
			}
		case err := <-ack.Err():
			return fmt.Errorf("relay: publishing event %s: %w", MsgID(evs[i]), err)
		}
	}
	return nil
}

// ensureStream creates the stream if it is missing.
func (r *Relay) ensureStream(ctx context.Context, window time.Duration) error {
	_, err := r.JS.Stream(ctx, r.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = r.JS.CreateStream(ctx, jetstream.StreamConfig{
			Name: r.Stream, Subjects: []string{r.Subject + ".>"}, Duplicates: window,
			Storage: jetstream.FileStorage,
		})
	}
	if err != nil {
		return fmt.Errorf("relay: stream %s: %w", r.Stream, err)
	}
	return nil
}

// ensureBucket returns the position's bucket, created if it is missing.
func (r *Relay) ensureBucket(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := r.JS.KeyValue(ctx, r.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = r.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: r.Bucket, Storage: jetstream.FileStorage})
	}
	if err != nil {
		return nil, fmt.Errorf("relay: bucket %s: %w", r.Bucket, err)
	}
	return kv, nil
}

// loadPosition returns the saved position and its revision, or 0 and 0 if
// none is saved.
func loadPosition(ctx context.Context, kv jetstream.KeyValue, key string) (pos int64, rev uint64, err error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("relay: reading the position: %w", err)
	}
	pos, err = strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("relay: the saved position %q: %w", e.Value(), err)
	}
	return pos, e.Revision(), nil
}

// savePosition saves pos if the position is still at revision rev (0: not
// saved yet), and returns the new revision. Another relay that saved in
// between makes it fail, so that two relays never run on one position
// unnoticed.
func savePosition(ctx context.Context, kv jetstream.KeyValue, key string, pos int64, rev uint64) (uint64, error) {
	val := []byte(strconv.FormatInt(pos, 10))
	var err error
	if rev == 0 {
		rev, err = kv.Create(ctx, key, val)
	} else {
		rev, err = kv.Update(ctx, key, val, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("relay: saving position %d (another relay on the same bucket?): %w", pos, err)
	}
	return rev, nil
}
