// Package report writes what a person reads after a jepsen-lite run:
// results.json (every figure and anomaly, for tools), summary.txt (one
// glance) and report.html.
//
// report.html is self-contained: inline SVG drawn here, no script, no
// stylesheet or font from the network, so it opens from a CI artifact or an
// air-gapped machine. It shows the operations on a timeline with the fault
// intervals shaded, latency over time coloured by outcome, throughput over
// time, and the anomalies with the history entries that prove them. Charts
// sample large histories (every failed or unknown operation is kept) so the
// file stays small. The metadata workload adds Porcupine's own
// visualization as a separate file, linked from the report.
package report
