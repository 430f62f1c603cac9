package main

// What a pass removes, decided from a snapshot of the daemon without I/O.

import (
	"sort"
	"strings"
	"time"
)

// Image is one top-level image of the daemon (docker image ls, not -a).
type Image struct {
	ID      string
	Tags    []string
	Digests []string
	Created time.Time
	// LastTagTime is when it was last tagged or pulled: a build that reaches
	// an old image through the cache and tags it makes it young again.
	LastTagTime time.Time
	Size        int64
}

// lastUsed is the latest of its creation, its last tagging and the last
// build on top of it. A base pulled once and built on every hour is young,
// not as old as its pull: least-recently-used must not evict the hottest base.
func (i Image) lastUsed(u Uses) time.Time {
	last := i.Created
	if i.LastTagTime.After(last) {
		last = i.LastTagTime
	}
	if u[i.ID].After(last) {
		last = u[i.ID]
	}
	return last
}

// Layer is one image of docker image ls -a. The classic builder makes each
// step's image the child of the one before, so parents lead from a built
// image down to the base it was built on.
type Layer struct {
	ID, Parent string
	Created    time.Time
}

// Uses is, per image, the newest creation of an image built on it. dockerd
// keeps no record of a build using a base that it does not tag, but the
// chain shows it while the built image exists; node-gc removes built images
// after --min-age, so it remembers across passes what their chains showed
// (a restart forgets, and the base looks as old as its last tag again).
type Uses map[string]time.Time

// record takes what this listing shows and forgets images no longer there.
func (u Uses) record(layers []Layer) {
	parent := make(map[string]string, len(layers))
	for _, l := range layers {
		parent[l.ID] = l.Parent
	}
	for id := range u {
		if _, there := parent[id]; !there {
			delete(u, id)
		}
	}
	for _, l := range layers {
		// Bounded by the listing's size: a parent loop (never seen) cannot hang a pass.
		for p, steps := parent[l.ID], 0; p != "" && steps < len(layers); p, steps = parent[p], steps+1 {
			if l.Created.After(u[p]) {
				u[p] = l.Created
			}
		}
	}
}

// dangling: no tag and no digest reference, what a failed build's step
// images are. Not dockerd's dangling=true filter, which also lists an image
// pulled only by digest (FROM base@sha256:…), a base the next build needs.
func (i Image) dangling() bool { return len(i.Tags) == 0 && len(i.Digests) == 0 }

// Snapshot is the daemon's images and the images its containers use.
type Snapshot struct {
	Images []Image
	// InUse holds the image IDs of all containers, running or stopped: a RUN
	// step's container, a container someone left on the node.
	InUse map[string]bool
	// Layers is every image, intermediate ones too, with its parent.
	Layers []Layer
}

// Options are the flags that shape a pass.
type Options struct {
	KeepStorage        int64
	MinAge             time.Duration
	InternalRepository string
}

// Reason says why an image goes; the log line carries it.
type Reason string

const (
	Leftover Reason = "leftover of a dockhand build"
	Dangling Reason = "dangling (a failed or cancelled build's step image)"
	ForSize  Reason = "least recently used while over --keep-storage"
)

// Removal is one image to remove. Force removes every tag of it (the
// daemon refuses to remove a multi-tagged image by ID otherwise).
type Removal struct {
	Image  Image
	Reason Reason
	Force  bool
}

// protection says why an image may not go at all, or "".
func protection(img Image, inUse bool, o Options, u Uses, now time.Time) string {
	if inUse {
		return "in use by a container"
	}
	if now.Sub(img.lastUsed(u)) < o.MinAge {
		return "younger than --min-age"
	}
	return ""
}

func (o Options) isInternal(img Image) bool {
	for _, tag := range img.Tags {
		if strings.HasPrefix(tag, o.InternalRepository) {
			return true
		}
	}
	return false
}

// planCleanup lists what goes whatever the disk use: the images of dockhand
// builds (their internal tag) and dangling images, once old enough.
func planCleanup(s Snapshot, o Options, u Uses, now time.Time) []Removal {
	var out []Removal
	for _, img := range s.Images {
		if protection(img, s.InUse[img.ID], o, u, now) != "" {
			continue
		}
		switch {
		case o.isInternal(img):
			out = append(out, Removal{Image: img, Reason: Leftover, Force: true})
		case img.dangling():
			out = append(out, Removal{Image: img, Reason: Dangling})
		}
	}
	return out
}

// nextForSize picks the least recently used image that may go, skipping
// those already removed; false when none may.
func nextForSize(s Snapshot, o Options, u Uses, now time.Time, removed map[string]bool) (Removal, bool) {
	var candidates []Image
	for _, img := range s.Images {
		if !removed[img.ID] && protection(img, s.InUse[img.ID], o, u, now) == "" {
			candidates = append(candidates, img)
		}
	}
	if len(candidates) == 0 {
		return Removal{}, false
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i].lastUsed(u), candidates[j].lastUsed(u)
		if !a.Equal(b) {
			return a.Before(b)
		}
		return candidates[i].ID < candidates[j].ID
	})
	return Removal{Image: candidates[0], Reason: ForSize, Force: true}, true
}

// keptBecause counts, for the log, why the images still there stay.
func keptBecause(s Snapshot, o Options, u Uses, now time.Time, removed map[string]bool) map[string]int {
	why := map[string]int{}
	for _, img := range s.Images {
		if removed[img.ID] {
			continue
		}
		if reason := protection(img, s.InUse[img.ID], o, u, now); reason != "" {
			why[reason]++
		}
	}
	return why
}
