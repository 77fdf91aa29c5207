package rtnl

// Test-only access to what the black-box tests check but the daemon need
// not see.

// PortFilter is portFilter, for running the program as the kernel would.
var PortFilter = portFilter

// AnswerFlags is answerFlags, the header flags of PutNeighAnswer and
// PutNeighFailure.
const AnswerFlags = answerFlags

// ReplaceFlags is replaceFlags, the header flags of PutNeighReplace.
const ReplaceFlags = replaceFlags

// Received returns how many datagrams c's last receiving call took.
func Received(c *Conn) int { return c.in.Received() }
