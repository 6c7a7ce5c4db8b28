package exchange

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// topicBench builds a topic exchange with n bindings of realistic shapes
// (region.service.entity.event) and a set of random routing keys.
func topicBench(b *testing.B, n int) (*Router, []string) {
	rng := rand.New(rand.NewPCG(1, 2))
	regions := make([]string, 50)
	for i := range regions {
		regions[i] = fmt.Sprintf("region%d", i)
	}
	services := make([]string, 500)
	for i := range services {
		services[i] = fmt.Sprintf("svc%d", i)
	}
	entities := []string{"orders", "payments", "users", "shipments", "invoices", "carts", "stock", "refunds"}
	events := []string{"created", "updated", "deleted", "failed", "retried", "archived"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	r := NewRouter()
	if err := r.Declare(Exchange{Name: "events", Kind: Topic}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var key string
		switch rng.IntN(6) {
		case 0:
			key = pick(regions) + ".*." + pick(entities) + ".#"
		case 1:
			key = pick(regions) + "." + pick(services) + "." + pick(entities) + "." + pick(events)
		case 2:
			key = "*." + pick(services) + ".#"
		case 3:
			key = pick(regions) + "." + pick(services) + ".*." + pick(events)
		case 4:
			key = pick(regions) + ".#." + pick(events)
		default:
			key = pick(regions) + "." + pick(services) + "." + pick(entities) + ".*"
		}
		if err := r.Bind(Binding{Source: "events", Dest: fmt.Sprintf("q%d", i%1000), Key: key}); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = strings.Join([]string{pick(regions), pick(services), pick(entities), pick(events)}, ".")
	}
	return r, keys
}

func BenchmarkTopicRoute10k(b *testing.B) {
	r, keys := topicBench(b, 10_000)
	b.ReportAllocs()
	var matched int
	i := 0
	for b.Loop() {
		got, err := r.Route("events", keys[i%len(keys)], nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		matched += len(got)
		i++
	}
	b.ReportMetric(float64(matched)/float64(i), "queues/op")
}

func BenchmarkHeadersRoute(b *testing.B) {
	r := NewRouter()
	if err := r.Declare(Exchange{Name: "h", Kind: Headers}); err != nil {
		b.Fatal(err)
	}
	modes := []string{MatchAll, MatchAny, MatchAllWithX, MatchAnyWithX}
	for i := 0; i < 100; i++ {
		args := map[string]string{
			XMatch:   modes[i%len(modes)],
			"format": fmt.Sprintf("f%d", i%5),
			"tenant": fmt.Sprintf("t%d", i%10),
		}
		if i%3 == 0 {
			args["x-region"] = ""
		}
		if err := r.Bind(Binding{Source: "h", Dest: fmt.Sprintf("q%d", i), Args: args}); err != nil {
			b.Fatal(err)
		}
	}
	headers := map[string]string{"format": "f1", "tenant": "t3", "x-region": "eu", "trace": "abc", "size": "10"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Route("h", "", headers, nil); err != nil {
			b.Fatal(err)
		}
	}
}
