package nodeagent

// The image catalogue of the emulated Windows nodes (part of the Windows node
// EMULATION, see windows_node_emulation.go). A real Windows node pulls the
// image a container names and runs what is in it; the emulation has no
// Windows images, so the catalogue says, per image reference, what running
// that image means on this host: which directories come first on PATH (the
// docker CLI of the version the image ships), the ENTRYPOINT, and the
// Windows build the image was made for. An image that is not in the
// catalogue cannot be "pulled".

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"

	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
)

// CatalogueImage is one entry of the --images file.
type CatalogueImage struct {
	// Reference as a pod spec may write it; it is normalised as the kubelet
	// and docker do (docker:29 == docker.io/library/docker:29).
	Reference string `json:"reference"`
	// Path: directories put first on PATH for a container of this image.
	Path []string `json:"path,omitempty"`
	// Entrypoint is the argv used when the container has no command, as the
	// image's ENTRYPOINT would be; the container's args are appended.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// OSVersion is the image's Windows build (config os.version, e.g.
	// 10.0.20348). With process isolation it must equal the node's
	// windows-build.
	OSVersion string `json:"osVersion,omitempty"`
	// HostProcess images (FROM the HostProcess base) run on any build.
	HostProcess bool `json:"hostProcess,omitempty"`
	// DockerVersion is informational: the docker CLI/engine version the
	// image ships, shown in the agent's log and the Pulled event.
	DockerVersion string `json:"dockerVersion,omitempty"`
}

// ImageCatalogue maps normalised references to entries. A nil catalogue
// (no --images) lets every image run as before: the host's commands.
type ImageCatalogue struct {
	file   string
	images map[string]CatalogueImage
}

type catalogueFile struct {
	Images []CatalogueImage `json:"images"`
}

// LoadImageCatalogue reads the --images file: {"images": [CatalogueImage…]}.
func LoadImageCatalogue(file string) (*ImageCatalogue, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var f catalogueFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("image catalogue %s: %w", file, err)
	}
	return NewImageCatalogue(file, f.Images)
}

// NewImageCatalogue checks and indexes entries; file is only for messages.
func NewImageCatalogue(file string, images []CatalogueImage) (*ImageCatalogue, error) {
	c := &ImageCatalogue{file: file, images: map[string]CatalogueImage{}}
	for _, img := range images {
		key, err := normaliseImage(img.Reference)
		if err != nil {
			return nil, fmt.Errorf("image catalogue %s: reference %q: %w", file, img.Reference, err)
		}
		if img.OSVersion == "" && !img.HostProcess {
			return nil, fmt.Errorf("image catalogue %s: %q needs osVersion or hostProcess: true", file, img.Reference)
		}
		if _, dup := c.images[key]; dup {
			return nil, fmt.Errorf("image catalogue %s: %q listed twice", file, key)
		}
		img.Reference = key
		c.images[key] = img
	}
	return c, nil
}

// normaliseImage is the reference as the kubelet and docker report it:
// docker.io/library/ prefix for official images, :latest when untagged.
func normaliseImage(image string) (string, error) {
	ref, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", err
	}
	return ref.String(), nil
}

// lookup finds the catalogue entry of a pod's image.
func (c *ImageCatalogue) lookup(image string) (CatalogueImage, bool) {
	key, err := normaliseImage(image)
	if err != nil {
		return CatalogueImage{}, false
	}
	img, ok := c.images[key]
	return img, ok
}

// pullError is what containerd reports when a tag does not exist, as the
// kubelet puts it into the waiting message (ErrImagePull).
func pullError(image string) string {
	name := displayImage(image)
	return fmt.Sprintf("rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", name, name, name)
}

// osMismatchError is what hcsshim reports (through containerd's task create,
// so the kubelet shows a StartError) when a process-isolated container's
// image was built for another Windows build than the host's.
func osMismatchError(containerID string) string {
	return fmt.Sprintf("failed to create containerd task: failed to create shim task: hcs::CreateComputeSystem %s: The container operating system does not match the host operating system.: unknown", containerID)
}

// catalogueImageID is a stable digest per catalogue entry, so two entries
// (two CLI versions) never report the same imageID.
func catalogueImageID(img CatalogueImage) string {
	b, _ := json.Marshal(img)
	name := img.Reference
	if ref, err := reference.ParseNormalizedNamed(img.Reference); err == nil {
		name = ref.Name()
	}
	return fmt.Sprintf("%s@sha256:%x", name, sha256.Sum256(b))
}

// isHostProcess reports a HostProcess container (pod- or container-level
// windowsOptions.hostProcess, the container's setting winning).
func isHostProcess(pod *v1.Pod, c *v1.Container) bool {
	if c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil && c.SecurityContext.WindowsOptions.HostProcess != nil {
		return *c.SecurityContext.WindowsOptions.HostProcess
	}
	sc := pod.Spec.SecurityContext
	return sc != nil && sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess
}

// resolveImage decides what a container's image means on this node: ok with
// the entry (nil entry: a Linux node or no catalogue, run host commands), or
// a pull error message when the image does not exist.
func (k *nodeKubelet) resolveImage(image string) (*CatalogueImage, string, bool) {
	if k.spec.OS != "windows" || k.cfg.Images == nil {
		return nil, "", true
	}
	img, ok := k.cfg.Images.lookup(image)
	if !ok {
		return nil, pullError(image), false
	}
	return &img, "", true
}

// osCompatible applies Windows' process-isolation rule: the image's build
// must be the host's, unless the container runs as HostProcess or the image
// is a HostProcess image.
func osCompatible(img *CatalogueImage, nodeBuild string, hostProcess bool) bool {
	if img == nil || img.HostProcess || hostProcess {
		return true
	}
	return img.OSVersion == nodeBuild
}
