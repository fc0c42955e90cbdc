package authcapture

// CaptureMode says when an authorization is captured.
type CaptureMode string

// The capture modes.
const (
	// CaptureManual: the host captures when it decides (the default).
	CaptureManual CaptureMode = "manual"
	// CaptureAutomatic: the provider authorized and captured at once; the
	// approval is recorded as two entries, authorized then captured.
	CaptureAutomatic CaptureMode = "automatic"
	// CaptureDelayed: the scheduler captures everything open after
	// CaptureDelay, unless a capture comes first.
	CaptureDelayed CaptureMode = "delayed"
)

// CancelMode says whether an authorization cancels itself.
type CancelMode string

// The cancel modes.
const (
	// CancelManual: only the host voids (the default).
	CancelManual CancelMode = "manual"
	// CancelDelayed: the scheduler voids everything open after
	// CancelDelay, unless a void comes first.
	CancelDelayed CancelMode = "delayed"
)

// ExpiryAction says what happens to the open amount when the hold lapses.
type ExpiryAction string

// The expiry actions.
const (
	// ExpiryRelease: the open amount is released (the default).
	ExpiryRelease ExpiryAction = "release"
	// ExpiryCapture: the open amount is captured before the hold lapses,
	// by a scheduled capture a safety margin before ExpiresAt.
	ExpiryCapture ExpiryAction = "capture"
)
