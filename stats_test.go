package main

import (
	"strings"
	"testing"
)

// TestCounterPlaces pins every counter's place in the file: a file written
// by an earlier release must show the same numbers under the same names.
func TestCounterPlaces(t *testing.T) {
	want := "inserts updates deletes evictions evicted_negative corrupt_slots write_errors loaded moves " +
		"arp_new arp_change app_recv app_success app_bad app_neg app_suppressed kern_neg kern_new kern_change " +
		"probes_sent probes_suppressed probe_errors flush_ignored nl_overruns redumps nl_bad answer_errors other_if " +
		"pkt_kernel_drops arp_accepted drop_outgoing drop_link drop_short drop_hwtype drop_proto drop_hlen drop_plen " +
		"drop_op drop_dad drop_sender_ip drop_sender_mac drop_eth_mismatch arp_off_subnet arp_own_addr app_failed " +
		"arp_claim_flood app_refused claims_started claims_refused claims_accepted claims_dropped claims_putback " +
		"nd_new nd_change nd_off_link nd_own_addr nd_claim_flood app_recv6 probes_sent6 nd_truncated " +
		"nd_accepted nd_drop_outgoing nd_drop_link nd_drop_short nd_drop_version nd_drop_next_header nd_drop_length " +
		"nd_drop_hop_limit nd_drop_type nd_drop_code nd_drop_checksum nd_drop_body nd_drop_option nd_drop_dad " +
		"nd_drop_source nd_drop_target nd_drop_solicited_mcast nd_drop_no_lladdr nd_drop_lladdr nd_drop_eth_mismatch " +
		"nd_prefix_limited"
	if got := strings.Join(counterNames[:], " "); got != want {
		t.Errorf("counters by place:\n%s\nwant\n%s", got, want)
	}
}
