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

// lastUsed is what the daemon knows of an image's last use; it keeps no
// record of a cache hit that did not tag.
func (i Image) lastUsed() time.Time {
	if i.LastTagTime.After(i.Created) {
		return i.LastTagTime
	}
	return i.Created
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
func protection(img Image, inUse bool, o Options, now time.Time) string {
	if inUse {
		return "in use by a container"
	}
	if now.Sub(img.lastUsed()) < o.MinAge {
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
func planCleanup(s Snapshot, o Options, now time.Time) []Removal {
	var out []Removal
	for _, img := range s.Images {
		if protection(img, s.InUse[img.ID], o, now) != "" {
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
func nextForSize(s Snapshot, o Options, now time.Time, removed map[string]bool) (Removal, bool) {
	var candidates []Image
	for _, img := range s.Images {
		if !removed[img.ID] && protection(img, s.InUse[img.ID], o, now) == "" {
			candidates = append(candidates, img)
		}
	}
	if len(candidates) == 0 {
		return Removal{}, false
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i].lastUsed(), candidates[j].lastUsed()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return candidates[i].ID < candidates[j].ID
	})
	return Removal{Image: candidates[0], Reason: ForSize, Force: true}, true
}

// keptBecause counts, for the log, why the images still there stay.
func keptBecause(s Snapshot, o Options, now time.Time, removed map[string]bool) map[string]int {
	why := map[string]int{}
	for _, img := range s.Images {
		if removed[img.ID] {
			continue
		}
		if reason := protection(img, s.InUse[img.ID], o, now); reason != "" {
			why[reason]++
		}
	}
	return why
}
