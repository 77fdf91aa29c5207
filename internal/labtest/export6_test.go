package labtest

// The parsers of lab6.go, for the tests of labtest_test.
var (
	ParseNeigh6    = parseNeigh6
	ParseNeighStat = parseNeighStat
)
