package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/storage"
)

// BenchmarkRecordDelivery measures durable intake: one delivery and one run per
// operation, committed with synchronous=FULL, from many concurrent callers (32 per
// GOMAXPROCS) as a busy webhook endpoint would have. pairs/s is the figure to watch.
func BenchmarkRecordDelivery(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1",` +
		`"amount":4200,"currency":"eur","customer":"cus_1","metadata":{"invoice_id":"inv_1"}}},` +
		`"padding":"` + strings.Repeat("x", 300) + `"}`)
	headers := map[string]string{
		"content-type":     "application/json",
		"user-agent":       "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
		"stripe-signature": "***",
		"content-length":   "512",
	}
	event := append([]byte(`{"body":`), append(body, '}')...)

	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := &storage.Delivery{Method: "POST", Path: "/hooks/stripe", StatusCode: 202,
				Headers: headers, Body: body}
			r := &storage.Run{Workflow: "stripe-payment", WorkflowVersion: "0123456789abcdef",
				Trigger: storage.TriggerWebhook, Event: event}
			if err := s.RecordDelivery(ctx, d, []*storage.Run{r}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
