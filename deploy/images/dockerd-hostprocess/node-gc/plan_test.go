package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

var opts = Options{KeepStorage: 10 << 30, MinAge: 15 * time.Minute, InternalRepository: "dockhand.invalid/build/"}

func ids(rs []Removal) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Image.ID + ":" + string(r.Reason)
	}
	return out
}

func TestPlanCleanup(t *testing.T) {
	s := Snapshot{
		Images: []Image{
			{ID: "built-old", Tags: []string{"dockhand.invalid/build/abc:win-ltsc2022", "registry/app:1"}, Created: ago(time.Hour)},
			{ID: "built-young", Tags: []string{"dockhand.invalid/build/def:win-ltsc2022"}, Created: ago(time.Minute)},
			// Built long ago, tagged again just now by a build that hit the cache.
			{ID: "built-retagged", Tags: []string{"dockhand.invalid/build/ghi:win-ltsc2022"}, Created: ago(48 * time.Hour), LastTagTime: ago(time.Minute)},
			{ID: "built-in-use", Tags: []string{"dockhand.invalid/build/jkl:win-ltsc2022"}, Created: ago(time.Hour)},
			{ID: "step-old", Created: ago(time.Hour)},
			{ID: "step-young", Created: ago(time.Minute)},
			{ID: "by-digest", Digests: []string{"mcr.microsoft.com/windows/servercore@sha256:0"}, Created: ago(time.Hour)},
			{ID: "base", Tags: []string{"mcr.microsoft.com/windows/servercore:ltsc2022"}, Created: ago(900 * time.Hour)},
		},
		InUse: map[string]bool{"built-in-use": true},
	}
	got := strings.Join(ids(planCleanup(s, opts, Uses{}, now)), " ")
	want := "built-old:" + string(Leftover) + " step-old:" + string(Dangling)
	if got != want {
		t.Fatalf("planCleanup:\n got %s\nwant %s", got, want)
	}
	if r := planCleanup(s, opts, Uses{}, now)[0]; !r.Force {
		t.Fatal("a leftover with a pushed name too must go with all its tags (Force)")
	}
}

func TestNextForSizeLeastRecentlyUsedFirst(t *testing.T) {
	s := Snapshot{
		Images: []Image{
			{ID: "b", Tags: []string{"b:1"}, Created: ago(30 * time.Hour)},
			{ID: "a", Tags: []string{"a:1"}, Created: ago(100 * time.Hour), LastTagTime: ago(20 * time.Hour)},
			{ID: "c", Tags: []string{"c:1"}, Created: ago(40 * time.Hour)},
			{ID: "young", Tags: []string{"y:1"}, Created: ago(time.Minute)},
			{ID: "used", Tags: []string{"u:1"}, Created: ago(900 * time.Hour)},
		},
		InUse: map[string]bool{"used": true},
	}
	removed := map[string]bool{}
	var order []string
	for {
		r, ok := nextForSize(s, opts, Uses{}, now, removed)
		if !ok {
			break
		}
		removed[r.Image.ID] = true
		order = append(order, r.Image.ID)
	}
	if got := strings.Join(order, ","); got != "c,b,a" {
		t.Fatalf("order %s, want c,b,a (by the later of created and last tagged; never in use or young)", got)
	}
	if why := keptText(keptBecause(s, opts, Uses{}, now, removed), passResult{}); why != "1 in use by a container, 1 younger than --min-age" {
		t.Fatalf("kept: %s", why)
	}
}

// A base pulled long ago that builds use every hour is the hottest image on
// the node, not the oldest: its built children show the use while they exist,
// and the pass remembers it once node-gc has removed them.
func TestBuildsOnABaseKeepItYoung(t *testing.T) {
	base := Image{ID: "base", Tags: []string{"servercore:ltsc2022"}, Created: ago(900 * time.Hour), LastTagTime: ago(800 * time.Hour)}
	other := Image{ID: "other", Tags: []string{"other:1"}, Created: ago(100 * time.Hour)}
	layers := []Layer{
		{ID: "base", Created: base.Created},
		{ID: "other", Created: other.Created},
		// A build an hour ago: two steps on the base, then its image.
		{ID: "step1", Parent: "base", Created: ago(61 * time.Minute)},
		{ID: "built", Parent: "step1", Created: ago(time.Hour)},
	}
	s := Snapshot{Images: []Image{base, other, {ID: "built", Tags: []string{"dockhand.invalid/build/x:win"}, Created: ago(time.Hour)}}, InUse: map[string]bool{}, Layers: layers}
	uses := Uses{}
	uses.record(layers)
	if got := base.lastUsed(uses); !got.Equal(ago(time.Hour)) {
		t.Fatalf("base last used %s ago, want 1h (its newest descendant)", now.Sub(got))
	}
	if r, _ := nextForSize(s, opts, uses, now, map[string]bool{}); r.Image.ID != "other" {
		t.Fatalf("first for size: %s, want other (the base was built on an hour ago)", r.Image.ID)
	}

	// Next pass: node-gc removed the built image; the base's use is remembered.
	uses.record([]Layer{{ID: "base", Created: base.Created}, {ID: "other", Created: other.Created}})
	if got := base.lastUsed(uses); !got.Equal(ago(time.Hour)) {
		t.Fatalf("after its children went, base last used %s ago, want 1h", now.Sub(got))
	}
	// An image that is gone is forgotten, so the memory stays as small as the node.
	uses.record([]Layer{{ID: "other", Created: other.Created}})
	if _, kept := uses["base"]; kept || len(uses) != 0 {
		t.Fatalf("uses of images no longer there: %v", uses)
	}
}

func TestUsesRecordSurvivesAParentLoop(t *testing.T) {
	uses := Uses{}
	uses.record([]Layer{{ID: "a", Parent: "b", Created: ago(time.Hour)}, {ID: "b", Parent: "a", Created: ago(2 * time.Hour)}})
	if !uses["b"].Equal(ago(time.Hour)) || !uses["a"].Equal(ago(time.Hour)) {
		t.Fatalf("uses %v", uses)
	}
}

// engineStandIn is an in-memory dockerd for runPass's order and log; the
// daemon itself is exercised in test/integration/node-gc.test.ts.
type engineStandIn struct {
	snap    Snapshot
	sizes   map[string]int64
	refuse  map[string]string
	removed []string
	// since holds what became of an image after the snapshot: a container
	// created from it, a build tagging it.
	since map[string]func(*Image) (inUse bool)
}

func (e *engineStandIn) snapshot(context.Context) (Snapshot, error) { return e.snap, nil }
func (e *engineStandIn) current(_ context.Context, id string) (Image, bool, bool, error) {
	for _, img := range e.snap.Images {
		if img.ID == id {
			inUse := e.snap.InUse[id]
			if change := e.since[id]; change != nil {
				inUse = change(&img) || inUse
			}
			return img, inUse, true, nil
		}
	}
	return Image{}, false, false, nil
}
func (e *engineStandIn) usage(context.Context) (int64, error) {
	var total int64
	for id, n := range e.sizes {
		total += n
		for _, r := range e.removed {
			if r == id {
				total -= n
			}
		}
	}
	return total, nil
}
func (e *engineStandIn) remove(_ context.Context, r Removal) (bool, string, error) {
	if why, ok := e.refuse[r.Image.ID]; ok {
		return false, why, nil
	}
	e.removed = append(e.removed, r.Image.ID)
	return true, "", nil
}

func TestRunPassStopsOnceUnderAndSaysWhatItKept(t *testing.T) {
	e := &engineStandIn{
		snap: Snapshot{Images: []Image{
			{ID: "leftover", Tags: []string{"dockhand.invalid/build/x:linux"}, Created: ago(time.Hour)},
			{ID: "old", Tags: []string{"old:1"}, Created: ago(50 * time.Hour)},
			{ID: "older", Tags: []string{"older:1"}, Created: ago(60 * time.Hour)},
			{ID: "newer", Tags: []string{"newer:1"}, Created: ago(2 * time.Hour)},
		}, InUse: map[string]bool{}},
		sizes: map[string]int64{"leftover": 1 << 30, "old": 6 << 30, "older": 3 << 30, "newer": 4 << 30},
	}
	var out bytes.Buffer
	res, err := runPass(context.Background(), e, opts, Uses{}, now, &out)
	if err != nil {
		t.Fatal(err)
	}
	// 14 GiB → leftover (13) → older (10): at the limit, so "old" stays.
	if got := strings.Join(e.removed, ","); got != "leftover,older" {
		t.Fatalf("removed %s\n%s", got, out.String())
	}
	if res.usage != 10<<30 || !strings.Contains(out.String(), "node-gc: removed 2 images (1 leftover, 0 dangling, 1 for size); images use 10GiB of --keep-storage=10GiB") {
		t.Fatalf("summary:\n%s", out.String())
	}
}

func TestRunPassOverWithNothingRemovable(t *testing.T) {
	e := &engineStandIn{
		snap: Snapshot{Images: []Image{
			{ID: "used", Tags: []string{"u:1"}, Created: ago(50 * time.Hour)},
			{ID: "refused", Tags: []string{"r:1"}, Created: ago(50 * time.Hour), Size: 1 << 30},
		}, InUse: map[string]bool{"used": true}},
		sizes:  map[string]int64{"used": 20 << 30, "refused": 1 << 30},
		refuse: map[string]string{"refused": "conflict: image has dependent child images"},
	}
	var out bytes.Buffer
	if _, err := runPass(context.Background(), e, opts, Uses{}, now, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kept refused (r:1), 1GiB, last used 50h0m0s ago: the daemon refused: conflict: image has dependent child images",
		"node-gc: still 11GiB over --keep-storage=10GiB and nothing more may go (1 in use by a container, 1 refused by the daemon)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, out.String())
		}
	}
}

// The snapshot is taken once a pass; each image is read again just before
// it goes, so what a build did to it in between (a RUN step's container, a
// cache hit tagging it) keeps it.
func TestRunPassKeepsWhatABuildTookSinceTheSnapshot(t *testing.T) {
	e := &engineStandIn{
		snap: Snapshot{Images: []Image{
			{ID: "leftover", Tags: []string{"dockhand.invalid/build/x:linux"}, Created: ago(time.Hour)},
			{ID: "step", Created: ago(time.Hour)},
			{ID: "base", Tags: []string{"base:1"}, Created: ago(90 * time.Hour)},
		}, InUse: map[string]bool{}},
		sizes: map[string]int64{"leftover": 1 << 30, "step": 1 << 30, "base": 20 << 30},
		since: map[string]func(*Image) bool{
			"leftover": func(img *Image) bool {
				img.Tags = append(img.Tags, "dockhand.invalid/build/y:linux")
				img.LastTagTime = ago(time.Second)
				return false
			},
			"base": func(*Image) bool { return true },
		},
	}
	var out bytes.Buffer
	if _, err := runPass(context.Background(), e, opts, Uses{}, now, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.removed, ","); got != "step" {
		t.Fatalf("removed %s\n%s", got, out.String())
	}
	for _, want := range []string{
		"kept leftover (dockhand.invalid/build/x:linux, dockhand.invalid/build/y:linux), 0B, last used 1s ago: now younger than --min-age",
		"kept base (base:1), 0B, last used 90h0m0s ago: now in use by a container",
		"node-gc: still 11GiB over --keep-storage=10GiB and nothing more may go (2 in use or tagged since this pass began)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, out.String())
		}
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--host=unix:///x.sock", "--keep-storage=40Gi", "--min-age=0s", "--once"})
	if err != nil || cfg.Options.KeepStorage != 40<<30 || cfg.Options.MinAge != 0 || !cfg.Once || cfg.Host != "unix:///x.sock" {
		t.Fatalf("%+v %v", cfg, err)
	}
	cfg, err = parseFlags(nil)
	if err != nil || cfg.Options.KeepStorage != 40<<30 || cfg.Options.MinAge != 15*time.Minute || cfg.Interval != 5*time.Minute || cfg.Once ||
		cfg.Options.InternalRepository != "dockhand.invalid/build/" || cfg.Host != "unix:///var/run/docker.sock" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	// The last of a repeated flag wins: an overlay appends to the DaemonSet's list.
	if cfg, err := parseFlags([]string{"--keep-storage=20Gi", "--keep-storage=80Gi", "--once=false"}); err != nil || cfg.Options.KeepStorage != 80<<30 || cfg.Once {
		t.Fatalf("repeated: %+v %v", cfg, err)
	}
	if _, err := parseFlags([]string{"--once", "--help"}); err != errHelp {
		t.Fatalf("--help: %v", err)
	}
	for _, c := range []struct{ args, want string }{
		{"--keep-storage=5Gi", "--keep-storage=5Gi is below --keep-storage-floor=10Gi: a Windows Server Core base image alone is about 5 GB on disk, so every pass would evict the base the next build needs; keep at least 10Gi (lower --keep-storage-floor only where base images are small, e.g. tests)"},
		{"--keep-storage=20G --keep-storage-floor=30G", "--keep-storage=20G is below --keep-storage-floor=30G"},
		{"--keep-storage=lots", "--keep-storage=lots is not a size: write a quantity like 40Gi, 500Mi or 40G"},
		{"--keep-storage=-1Gi", "--keep-storage=-1Gi is not a size"},
		{"--keep-storage=0", "--keep-storage=0 is not a size"},
		{"--keep-storage-floor=x", "--keep-storage-floor=x is not a size"},
		{"--min-age=soon", "--min-age=soon is not a duration: write one like 15m"},
		{"--min-age=15", "--min-age=15 is not a duration"},
		{"--min-age=-1m", "--min-age=-1m is negative: write a duration like 15m"},
		{"--interval=0s", "--interval=0s is not positive: write a duration like 5m"},
		{"--once=maybe", "--once=maybe: write --once, or --once=false"},
		{"--host=", "--host is empty: write dockerd's endpoint, e.g. --host=unix:///var/run/docker.sock"},
		{"--internal-repository=", "--internal-repository is empty"},
		{"--bogus=1", "unknown flag --bogus=1: the flags are --host, --internal-repository, --interval, --keep-storage, --keep-storage-floor, --min-age, --once, each written --name=value"},
		{"-min-age=1m", `unexpected argument "-min-age=1m": every setting is a flag written --name=value`},
		{"--min-age 1m", "--min-age has no value: write --min-age=15m (with '=', in one argument)"},
		{"extra", `unexpected argument "extra"`},
	} {
		_, err := parseFlags(strings.Fields(c.args))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.args, err, c.want)
		}
	}
}

func TestQuantity(t *testing.T) {
	for in, want := range map[string]int64{
		"40Gi": 40 << 30, "500Mi": 500 << 20, "1Ki": 1024, "2Ti": 2 << 40,
		"40G": 40e9, "40k": 40e3, "3M": 3e6, "1T": 1e12, "1e3": 1000,
		"1048576": 1 << 20, "1.5Gi": 3 << 29, "0.5": 1, ".5Ki": 512,
	} {
		if got, err := parseQuantity(in); err != nil || got != want {
			t.Errorf("%s: got %d %v, want %d", in, got, err, want)
		}
	}
	// Kubernetes' quantity grammar: no "GB", no lower-case binary suffixes,
	// kilo is k (K is not a suffix), no spaces.
	for _, in := range []string{"", "lots", "40GB", "40gi", "40ki", "40K", "1/2", "40 Gi", "Gi", "0", "-1Gi", "99999999Ei"} {
		if got, err := parseQuantity(in); err == nil {
			t.Errorf("%q: got %d, want a refusal", in, got)
		}
	}
}
