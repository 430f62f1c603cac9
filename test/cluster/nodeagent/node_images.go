package nodeagent

// The images an EMULATED Windows node holds (part of the Windows node
// EMULATION, see windows_node_emulation.go). A real node pulls an image once
// and keeps it until the kubelet's image GC or an operator (crictl rmi)
// removes it; pods that start later find it "already present on machine"
// (imagePullPolicy IfNotPresent), and the kubelet lists what it holds in the
// Node's status.images: names (RepoDigests, then RepoTags, at most 5), size,
// largest first, at most nodeStatusMaxImages (50) images
// (k8s.io/kubernetes v1.37.2 pkg/kubelet/nodestatus/setters.go, Images).
//
// Here a catalogue image is "pulled" the first time a container of it starts
// on the node: a Pulling event, then "Successfully pulled image …" as the
// kubelet writes it (pkg/kubelet/images/image_manager.go), and a file
//
//	node/<node>/images/<sha256 of the reference>.json
//
// under the agent's --dir. The files outlive the pods (and the agent), as a
// node's images do; deleting one is the emulation's `crictl rmi` (a test
// that needs a node without an image removes it, as the Hyper-V feature file
// is added and removed). The image GC is not emulated: nothing is removed
// by itself.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// nodeStatusMaxImages is the kubelet's default (KubeletConfiguration
// nodeStatusMaxImages, pkg/kubelet/apis/config/v1beta1/defaults.go).
const nodeStatusMaxImages = 50

// maxNamesPerImageInNodeStatus is the kubelet's cut of an image's names
// (pkg/kubelet/nodestatus MaxNamesPerImageInNodeStatus).
const maxNamesPerImageInNodeStatus = 5

// heldImage is one file of a node's image store.
type heldImage struct {
	// Reference is the catalogue entry's normalised reference (the RepoTag).
	Reference string `json:"reference"`
	// ImageID is the catalogue's digest name (the RepoDigest), as pod
	// statuses report it.
	ImageID   string    `json:"imageID"`
	SizeBytes int64     `json:"sizeBytes"`
	PulledAt  time.Time `json:"pulledAt"`
}

// NodeImagesDir is where the emulation keeps a node's images (one JSON file each).
func NodeImagesDir(nodeDir string) string { return filepath.Join(nodeDir, "images") }

func (k *nodeKubelet) imagesDir() string { return NodeImagesDir(k.lay.nodeDir(k.spec.Name)) }

func heldImageFile(dir, reference string) string {
	return filepath.Join(dir, fmt.Sprintf("%x.json", sha256.Sum256([]byte(reference))))
}

// emulatedImageSize is a plausible on-disk size for a catalogue image: a
// Windows Server Core image is about 5 GB unpacked, Nano Server a few hundred
// MB, a HostProcess image (no Windows base layers) or pause less. Stable per
// reference, so the list's order (largest first) is too.
func emulatedImageSize(img CatalogueImage) int64 {
	sum := sha256.Sum256([]byte(img.Reference))
	jitter := int64(binary.BigEndian.Uint32(sum[:4]) % 100_000_000)
	switch ref := strings.ToLower(img.Reference); {
	case strings.Contains(ref, "servercore"):
		return 5_000_000_000 + 4*jitter
	case strings.Contains(ref, "nanoserver"):
		return 250_000_000 + jitter
	case strings.Contains(ref, "pause"):
		return 100_000_000 + jitter/10
	default:
		return 150_000_000 + jitter
	}
}

// ensureImage is the kubelet's EnsureImageExists for a catalogue image that
// resolves: with IfNotPresent (or Never) and the image held, "already
// present"; otherwise a pull, recorded in the node's store. It returns the
// events to emit, in order, as reason/message pairs.
func (k *nodeKubelet) ensureImage(c *v1.Container, img CatalogueImage) [][2]string {
	k.imagesMu.Lock()
	defer k.imagesMu.Unlock()
	dir := k.imagesDir()
	file := heldImageFile(dir, img.Reference)
	_, err := os.Stat(file)
	held := err == nil
	if held && c.ImagePullPolicy != v1.PullAlways {
		return [][2]string{{"Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image)}}
	}
	h := heldImage{Reference: img.Reference, ImageID: catalogueImageID(img), SizeBytes: emulatedImageSize(img), PulledAt: time.Now().UTC()}
	if !held {
		if err := writeHeldImage(dir, file, h); err != nil {
			// The pull itself "succeeded"; only the record is lost, as if GC'd at once.
			return [][2]string{{"Pulling", fmt.Sprintf("Pulling image %q", c.Image)},
				{"Pulled", fmt.Sprintf("Successfully pulled image %q in 0s (0s including waiting). Image size: %d bytes.", c.Image, h.SizeBytes)}}
		}
	}
	k.imagesChanged()
	return [][2]string{{"Pulling", fmt.Sprintf("Pulling image %q", c.Image)},
		{"Pulled", fmt.Sprintf("Successfully pulled image %q in 0s (0s including waiting). Image size: %d bytes.", c.Image, h.SizeBytes)}}
}

func writeHeldImage(dir, file string, h heldImage) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(h)
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// statusImages is the Node's status.images: what the store holds, largest
// first, cut at nodeStatusMaxImages, names digest first then tag.
func statusImages(dir string) []v1.ContainerImage {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var held []heldImage
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		var h heldImage
		if json.Unmarshal(b, &h) == nil && h.Reference != "" {
			held = append(held, h)
		}
	}
	sort.Slice(held, func(i, j int) bool {
		if held[i].SizeBytes != held[j].SizeBytes {
			return held[i].SizeBytes > held[j].SizeBytes
		}
		return held[i].Reference < held[j].Reference
	})
	if len(held) > nodeStatusMaxImages {
		held = held[:nodeStatusMaxImages]
	}
	var out []v1.ContainerImage
	for _, h := range held {
		names := []string{h.ImageID, h.Reference}
		if len(names) > maxNamesPerImageInNodeStatus {
			names = names[:maxNamesPerImageInNodeStatus]
		}
		out = append(out, v1.ContainerImage{Names: names, SizeBytes: h.SizeBytes})
	}
	return out
}

// imagesFingerprint changes whenever a file of the store is added, replaced or removed.
func imagesFingerprint(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s %d %d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}
