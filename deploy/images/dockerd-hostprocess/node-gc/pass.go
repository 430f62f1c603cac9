package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/docker/go-units"
)

// engine is what a pass needs of dockerd (daemon.go; a test may stand in).
type engine interface {
	snapshot(ctx context.Context) (Snapshot, error)
	current(ctx context.Context, id string) (img Image, inUse bool, found bool, err error)
	usage(ctx context.Context) (int64, error)
	remove(ctx context.Context, r Removal) (removed bool, refusal string, err error)
}

type passResult struct {
	removed map[Reason]int
	refused int // by the daemon
	changed int // in use or tagged since the snapshot
	usage   int64
}

// runPass removes what planCleanup lists, then the least recently used
// images while the images take more than --keep-storage, and logs each
// removal and a summary line. uses carries what earlier passes saw built on
// each image; the pass adds to it.
func runPass(ctx context.Context, e engine, o Options, uses Uses, now time.Time, out io.Writer) (passResult, error) {
	res := passResult{removed: map[Reason]int{}}
	snap, err := e.snapshot(ctx)
	if err != nil {
		return res, err
	}
	uses.record(snap.Layers)
	gone := map[string]bool{}
	apply := func(r Removal) error {
		gone[r.Image.ID] = true // kept ones too: asking again in this pass gets the same answer
		img, inUse, found, err := e.current(ctx, r.Image.ID)
		if err != nil || !found {
			return err
		}
		if why := protection(img, inUse, o, uses, now); why != "" {
			res.changed++
			fmt.Fprintf(out, "kept %s: now %s\n", describe(img, uses, now), why)
			return nil
		}
		r.Image = img
		ok, refusal, err := e.remove(ctx, r)
		if err != nil {
			return err
		}
		if !ok {
			res.refused++
			fmt.Fprintf(out, "kept %s: the daemon refused: %s\n", describe(r.Image, uses, now), refusal)
			return nil
		}
		res.removed[r.Reason]++
		fmt.Fprintf(out, "removed %s: %s\n", describe(r.Image, uses, now), r.Reason)
		return nil
	}
	for _, r := range planCleanup(snap, o, uses, now) {
		if err := apply(r); err != nil {
			return res, err
		}
	}
	if res.usage, err = e.usage(ctx); err != nil {
		return res, err
	}
	for res.usage > o.KeepStorage {
		r, ok := nextForSize(snap, o, uses, now, gone)
		if !ok {
			fmt.Fprintf(out, "node-gc: still %s over --keep-storage=%s and nothing more may go (%s)\n",
				size(res.usage-o.KeepStorage), size(o.KeepStorage), keptText(keptBecause(snap, o, uses, now, gone), res))
			break
		}
		if err := apply(r); err != nil {
			return res, err
		}
		if res.usage, err = e.usage(ctx); err != nil {
			return res, err
		}
	}
	total := res.removed[Leftover] + res.removed[Dangling] + res.removed[ForSize]
	fmt.Fprintf(out, "node-gc: removed %d images (%d leftover, %d dangling, %d for size); images use %s of --keep-storage=%s\n",
		total, res.removed[Leftover], res.removed[Dangling], res.removed[ForSize], size(res.usage), size(o.KeepStorage))
	return res, nil
}

func describe(img Image, u Uses, now time.Time) string {
	name := img.ID
	if len(img.Tags) > 0 {
		name += " (" + strings.Join(img.Tags, ", ") + ")"
	}
	return fmt.Sprintf("%s, %s, last used %s ago", name, size(img.Size), max(0, now.Sub(img.lastUsed(u))).Round(time.Second))
}

func keptText(why map[string]int, res passResult) string {
	parts := make([]string, 0, len(why)+2)
	for reason, n := range why {
		parts = append(parts, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(parts)
	if res.changed > 0 {
		parts = append(parts, fmt.Sprintf("%d in use or tagged since this pass began", res.changed))
	}
	if res.refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused by the daemon", res.refused))
	}
	if len(parts) == 0 {
		return "no image left"
	}
	return strings.Join(parts, ", ")
}

func size(bytes int64) string { return units.BytesSize(float64(bytes)) }
