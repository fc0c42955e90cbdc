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
	// ProviderRef is the entry's ProviderRef: the provider's own ID for
	// the action, if the host gave it.
	ProviderRef string `json:",omitzero"`
	// Reference is the entry's Reference: the one the caller gave with the
	// command (an order or shipment ID, the provider's reference), or for
	// a schedule event the new due time.
	Reference string `json:",omitzero"`
	// Reason is the entry's Reason: the caller's reason, the provider's
	// decline or failure code, or the reason the library recorded (such as
	// final_capture or expired).
	Reason Reason `json:",omitzero"`
	// CloseReason is set on every event of the change that closed the
	// authorization: how it ended.
	CloseReason CloseReason `json:",omitzero"`
}
