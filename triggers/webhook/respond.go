package webhook

// The answers of accepted requests: async (202 with the ids, right after the commit)
// and sync (the run's outcome, or a respond step's answer).

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
)

// respondAsync answers 202 with the delivery and run ids (200 when nothing new was
// started: no run, or only duplicates).
func (h *Handler) respondAsync(rq *request, runs []*storage.Run) {
	duplicate := len(runs) > 0
	for _, r := range runs {
		if r.DuplicateOf == 0 {
			duplicate = false
		}
	}
	// Written by hand: this answer is on the hot path of intake.
	buf := make([]byte, 0, 64+24*len(runs))
	buf = append(buf, `{"delivery_id":"`...)
	buf = strconv.AppendInt(buf, rq.delivery.ID, 10)
	buf = append(buf, '"')
	if duplicate {
		buf = append(buf, `,"duplicate":true`...)
	}
	buf = append(buf, `,"runs":[`...)
	for i, r := range runs {
		if i > 0 {
			buf = append(buf, ',')
		}
		id := r.ID
		if r.DuplicateOf != 0 {
			id = r.DuplicateOf
		}
		buf = append(buf, '"')
		buf = strconv.AppendInt(buf, id, 10)
		buf = append(buf, '"')
	}
	buf = append(buf, "]}"...)
	status := rq.delivery.StatusCode
	if duplicate {
		status = http.StatusOK
	}
	rq.c.Data(status, "application/json; charset=utf-8", buf)
}

// respondSync waits for the first sync workflow's run and answers with its outcome;
// false means the request should be answered as async (the run was a duplicate).
func (h *Handler) respondSync(rq *request, r *route, runs []*storage.Run, results []<-chan engine.Result) bool {
	var run *storage.Run
	var ch <-chan engine.Result
	for i, x := range runs {
		if x.Workflow == r.wf.Name && results[i] != nil {
			run, ch = x, results[i]
			break
		}
	}
	if ch == nil {
		return false
	}
	id := strconv.FormatInt(run.ID, 10)
	ctx, cancel := context.WithTimeout(rq.c.Request.Context(), r.hook.Timeout)
	defer cancel()
	select {
	case res := <-ch:
		writeResult(rq.c, id, res)
	case <-ctx.Done():
		h.engine.Unwatch(run.ID, ch)
		rq.c.JSON(http.StatusAccepted, gin.H{"run_id": id, "status": "running"})
	}
	return true
}

func writeResult(c *gin.Context, id string, res engine.Result) {
	if resp := res.Response; resp != nil {
		for k, v := range resp.Headers {
			c.Header(k, v)
		}
		switch b := resp.Body.(type) {
		case nil:
			c.Status(resp.Status)
		case string:
			c.String(resp.Status, "%s", b)
		default:
			c.JSON(resp.Status, b)
		}
		return
	}
	if res.Status == storage.RunSucceeded {
		c.JSON(http.StatusOK, gin.H{"run_id": id, "status": string(res.Status), "output": res.Output})
		return
	}
	c.JSON(http.StatusInternalServerError, gin.H{"run_id": id, "status": string(res.Status), "error": res.Error})
}
