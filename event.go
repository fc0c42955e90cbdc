package authcapture

import "time"

// EventType names an event, in the dotted form webhooks use.
type EventType string

// The event types. Every accepted command yields at least one.
const (
	EventCreated                 EventType = "authorization.created"
	EventPending                 EventType = "authorization.pending"
	EventAuthorized              EventType = "authorization.authorized"
	EventDeclined                EventType = "authorization.declined"
	EventCanceled                EventType = "authorization.canceled"
	EventVoided                  EventType = "authorization.voided"             // a void released the whole open amount
	EventPartiallyVoided         EventType = "authorization.partially_voided"   // part of it released; the rest stays open
	EventRemainderReleased       EventType = "authorization.remainder_released" // a final capture released what was still open
	EventExpired                 EventType = "authorization.expired"
	EventAmountCapturableUpdated EventType = "authorization.amount_capturable_updated"
	EventScheduleUpdated         EventType = "authorization.schedule_updated"
	EventCapturePending          EventType = "capture.pending"
	EventCaptureSucceeded        EventType = "capture.succeeded"
	EventCaptureFailed           EventType = "capture.failed"
	EventVoidPending             EventType = "void.pending"     // a two-phase void was begun: its amount is reserved
	EventVoidFailed              EventType = "void.failed"      // the provider refused a two-phase void
	EventRefundPending           EventType = "refund.pending"   // a two-phase refund was begun: its amount is reserved
	EventRefundSucceeded         EventType = "refund.succeeded" // the provider gave the amount back
	EventRefundFailed            EventType = "refund.failed"    // the provider refused a refund: its amount is refundable again
	// An approved amount change (incremental or decremental
	// authorization): PreviousAuthorized, Authorized, Delta, ChangeForm,
	// ChangeID and ProviderRef say what changed.
	EventAmountChanged        EventType = "authorization.amount_changed"
	EventAmountChangePending  EventType = "amount_change.pending"  // a two-phase amount change was begun
	EventAmountChangeDeclined EventType = "amount_change.declined" // the provider declined an amount change: nothing changed
	// EventReauthorized: the provider placed a new hold for the payment
	// (Service.Reauthorize). ExpiresAt is the new hold's expiry,
	// PreviousExpiresAt the old one's; ProviderRef the new authorization's
	// reference, if the provider gave one.
	EventReauthorized EventType = "authorization.reauthorized"
	// EventExpiringSoon: the hold expires within the policy's ExpiringSoon
	// lead time. Sent once per hold by the Scheduler; ExpiresAt is the
	// hold's expiry.
	EventExpiringSoon EventType = "authorization.expiring_soon"
)

// Event records an accepted change for relay to webhooks. Events are written
// in the same atomic write as the change (a transactional outbox).
type Event struct {
	// Position is assigned by the store when the event is written. It
	// increases across all authorizations of a store and is the cursor for
	// Service.Events.
	Position        int64     `json:",omitzero"`
	MerchantID      string    `json:",omitzero"`
	AuthorizationID string    `json:",omitzero"`
	Seq             int64     `json:",omitzero"` // 1-based, per authorization, without gaps
	Version         int64     `json:",omitzero"` // the authorization version that produced it
	Type            EventType `json:",omitzero"`
	At              time.Time `json:",omitzero"`
	EntrySeq        int64     `json:",omitzero"` // the log entry it reports
	Amount          int64     `json:",omitzero"` // the entry's amount, in minor units
	Open            int64     `json:",omitzero"` // open to capture after the change, in minor units
	Status          Status    `json:",omitzero"` // status after the change
	// Refunded and PendingRefund are the refund ledger after the change,
	// in minor units: what refunds gave back, and what refunds in flight
	// reserve.
	Refunded      int64 `json:",omitzero"`
	PendingRefund int64 `json:",omitzero"`

	// CaptureID names the capture a capture event reports (the entry's
	// CaptureID), or the capture a refund event's refund names; empty for
	// other entries and for a refund against the total captured.
	CaptureID string `json:",omitzero"`
	// RefundID names the refund a refund event reports (the entry's
	// RefundID); empty for other entries.
	RefundID string `json:",omitzero"`
	// VoidID names the two-phase void a void event reports (the entry's
	// VoidID); empty for other entries and for a direct void.
	VoidID string `json:",omitzero"`
	// ProviderRef is the entry's ProviderRef: the provider's own ID for
	// the action or, on authorization.reauthorized, the new hold, if the
	// host gave it.
	ProviderRef string `json:",omitzero"`
	// Reference is the entry's Reference: the one the caller gave with the
	// command (an order or shipment ID, the provider's reference), or for
	// a schedule event the new due time.
	Reference string `json:",omitzero"`
	// Reason is the entry's Reason: the caller's reason, the provider's
	// decline or failure code, or the reason the library recorded (such as
	// final_capture or expired).
	Reason Reason `json:",omitzero"`
	// For amount-change events: the change's ID and form, its signed
	// Delta, and the authorized amount before and after (on
	// authorization.amount_changed; on the others Authorized is the total
	// asked for), in minor units.
	ChangeID           string           `json:",omitzero"`
	ChangeForm         AmountChangeForm `json:",omitzero"`
	Delta              int64            `json:",omitzero"`
	PreviousAuthorized int64            `json:",omitzero"`
	Authorized         int64            `json:",omitzero"`
	// CloseReason is set on every event of the change that closed the
	// authorization: how it ended.
	CloseReason CloseReason `json:",omitzero"`
	// ExpiresAt, on authorization.reauthorized and
	// authorization.expiring_soon, is when the hold lapses.
	ExpiresAt time.Time `json:",omitzero"`
	// PreviousExpiresAt, on authorization.reauthorized, is when the hold
	// the reauthorization replaced would have lapsed.
	PreviousExpiresAt time.Time `json:",omitzero"`
}
