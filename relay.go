package authcapture

import "context"

// AllEvents returns up to limit events of every merchant after the cursor
// position after (0 for the start), oldest first: the outbox of the whole
// store, for one relay that serves all merchants. Like Events, a relay that
// keeps the last Position it saw never misses an event.
func (s *Service) AllEvents(ctx context.Context, after int64, limit int) ([]Event, error) {
	if err := checkContext(ctx, "all_events"); err != nil {
		return nil, err
	}
	if after < 0 || limit <= 0 || limit > 10_000 {
		return nil, &Error{Op: "all_events", Err: ErrInvalidArgument,
			Detail: "after must be >= 0 and limit between 1 and 10000"}
	}
	return s.store.AllEvents(ctx, after, limit)
}
