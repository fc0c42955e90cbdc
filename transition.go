package authcapture

// Command names a command of the Service, as the transition table uses it.
type Command string

// The commands.
const (
	CmdCreate         Command = "create"
	CmdMarkPending    Command = "mark_pending"
	CmdAuthorize      Command = "authorize"
	CmdDecline        Command = "decline"
	CmdCancel         Command = "cancel"
	CmdCapture        Command = "capture"
	CmdBeginCapture   Command = "begin_capture"
	CmdConfirmCapture Command = "confirm_capture"
	CmdFailCapture    Command = "fail_capture"
	CmdVoid           Command = "void"
	CmdBeginVoid      Command = "begin_void"
	CmdConfirmVoid    Command = "confirm_void"
	CmdFailVoid       Command = "fail_void"
	CmdRefund         Command = "refund"
	CmdBeginRefund    Command = "begin_refund"
	CmdConfirmRefund  Command = "confirm_refund"
	CmdFailRefund     Command = "fail_refund"
	CmdExpire         Command = "expire"
	CmdSchedule       Command = "schedule" // the scheduler claims or reschedules an action
)

// transition is one edge of the state machine: Command, accepted in From,
// may leave the authorization in To. From is empty for creation.
type transition struct {
	From    Status
	Command Command
	To      Status
}

// transitions is the state machine as data. The service checks every
// accepted command against it, and the README's state diagram is generated
// from it (see mermaidDiagram).
var transitions = []transition{
	{"", CmdCreate, StatusRequiresAuthorization},

	{StatusRequiresAuthorization, CmdMarkPending, StatusPending},
	{StatusRequiresAuthorization, CmdAuthorize, StatusAuthorized},
	{StatusRequiresAuthorization, CmdAuthorize, StatusCaptured},
	{StatusRequiresAuthorization, CmdAuthorize, StatusExpired},
	{StatusRequiresAuthorization, CmdDecline, StatusDeclined},
	{StatusRequiresAuthorization, CmdCancel, StatusCanceled},

	{StatusPending, CmdAuthorize, StatusAuthorized},
	{StatusPending, CmdAuthorize, StatusCaptured},
	{StatusPending, CmdAuthorize, StatusExpired},
	{StatusPending, CmdDecline, StatusDeclined},
	{StatusPending, CmdCancel, StatusCanceled},

	{StatusAuthorized, CmdCapture, StatusPartiallyCaptured},
	{StatusAuthorized, CmdCapture, StatusCaptured},
	{StatusAuthorized, CmdBeginCapture, StatusPartiallyCaptured},
	{StatusAuthorized, CmdVoid, StatusAuthorized},
	{StatusAuthorized, CmdVoid, StatusVoided},
	{StatusAuthorized, CmdBeginVoid, StatusAuthorized},
	{StatusAuthorized, CmdConfirmVoid, StatusAuthorized},
	{StatusAuthorized, CmdConfirmVoid, StatusVoided},
	{StatusAuthorized, CmdConfirmVoid, StatusExpired},
	{StatusAuthorized, CmdFailVoid, StatusAuthorized},
	{StatusAuthorized, CmdFailVoid, StatusVoided},
	{StatusAuthorized, CmdFailVoid, StatusExpired},
	{StatusAuthorized, CmdExpire, StatusAuthorized},
	{StatusAuthorized, CmdCancel, StatusAuthorized}, // a void in flight still holds part of it
	{StatusAuthorized, CmdCancel, StatusVoided},
	{StatusAuthorized, CmdExpire, StatusExpired},
	{StatusAuthorized, CmdSchedule, StatusAuthorized},

	{StatusPartiallyCaptured, CmdCapture, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdCapture, StatusCaptured},
	{StatusPartiallyCaptured, CmdBeginCapture, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdConfirmCapture, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdConfirmCapture, StatusCaptured},
	{StatusPartiallyCaptured, CmdFailCapture, StatusAuthorized},
	{StatusPartiallyCaptured, CmdFailCapture, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdFailCapture, StatusCaptured},
	{StatusPartiallyCaptured, CmdFailCapture, StatusExpired},
	{StatusPartiallyCaptured, CmdFailCapture, StatusVoided},
	{StatusPartiallyCaptured, CmdVoid, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdVoid, StatusCaptured},
	{StatusPartiallyCaptured, CmdBeginVoid, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdConfirmVoid, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdConfirmVoid, StatusCaptured},
	{StatusPartiallyCaptured, CmdFailVoid, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdFailVoid, StatusCaptured},
	{StatusPartiallyCaptured, CmdCancel, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdCancel, StatusCaptured},
	{StatusPartiallyCaptured, CmdExpire, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdExpire, StatusCaptured},
	{StatusPartiallyCaptured, CmdSchedule, StatusPartiallyCaptured},

	// Refunds change the refund ledger only, never the hold: each leaves
	// the status as it was. They are accepted once something may have
	// been captured, and on a captured (closed) authorization too.
	{StatusPartiallyCaptured, CmdRefund, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdBeginRefund, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdConfirmRefund, StatusPartiallyCaptured},
	{StatusPartiallyCaptured, CmdFailRefund, StatusPartiallyCaptured},
	{StatusCaptured, CmdRefund, StatusCaptured},
	{StatusCaptured, CmdBeginRefund, StatusCaptured},
	{StatusCaptured, CmdConfirmRefund, StatusCaptured},
	{StatusCaptured, CmdFailRefund, StatusCaptured},
}

// refundCommand reports whether op changes only the refund ledger: the
// only commands a closed authorization accepts.
func refundCommand(op Command) bool {
	switch op {
	case CmdRefund, CmdBeginRefund, CmdConfirmRefund, CmdFailRefund:
		return true
	}
	return false
}

type edge struct {
	from Status
	cmd  Command
	to   Status
}

var (
	edges   = map[edge]bool{}
	accepts = map[Status]map[Command]bool{}
)

func init() {
	for _, t := range transitions {
		edges[edge{t.From, t.Command, t.To}] = true
		if accepts[t.From] == nil {
			accepts[t.From] = map[Command]bool{}
		}
		accepts[t.From][t.Command] = true
	}
}

// Accepts reports whether the state machine has any transition for cmd from s.
func (s Status) Accepts(cmd Command) bool { return accepts[s][cmd] }

// mermaidDiagram renders the transition table as a Mermaid state diagram,
// one line per distinct edge with the commands that take it.
func mermaidDiagram() string {
	type pair struct{ from, to Status }
	var order []pair
	labels := map[pair][]Command{}
	for _, t := range transitions {
		p := pair{t.From, t.To}
		if _, ok := labels[p]; !ok {
			order = append(order, p)
		}
		labels[p] = append(labels[p], t.Command)
	}
	out := "stateDiagram-v2\n"
	node := func(s Status) string {
		if s == "" {
			return "[*]"
		}
		return string(s)
	}
	for _, p := range order {
		label := ""
		for i, c := range labels[p] {
			if i > 0 {
				label += ", "
			}
			label += string(c)
		}
		out += "    " + node(p.from) + " --> " + node(p.to) + " : " + label + "\n"
	}
	for _, s := range []Status{StatusDeclined, StatusCanceled, StatusCaptured, StatusVoided, StatusExpired} {
		out += "    " + string(s) + " --> [*]\n"
	}
	return out
}
