package nodeagent

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// criLog appends a container's stdout and stderr to one file in the CRI log
// format the kubelet reads (k8s.io/cri-client/pkg/logs):
//
//	2016-10-06T00:17:09.669794202Z stdout F a full line
//	2016-10-06T00:17:09.669794203Z stderr P part of a long line
//
// Writing the runtime's format lets the agent serve /containerLogs with the
// kubelet's own reader, so tailLines, sinceTime, limitBytes and follow behave
// exactly as on a real node.
type criLog struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
}

// criTimeFormat is containerd's fixed-width RFC3339Nano.
const criTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// maxCRILineChunk matches containerd's 16 KiB read buffer: longer lines are
// split into P (partial) records that the reader joins again.
const maxCRILineChunk = 16 * 1024

func openCRILog(path string) (*criLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &criLog{f: f, now: time.Now}, nil
}

// copyStream reads r until EOF and appends one record per line. Each record is
// written straight to the file so a follower sees it at once.
func (l *criLog) copyStream(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, maxCRILineChunk)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			l.write(stream, "F", line)
		case errors.Is(err, bufio.ErrBufferFull):
			l.write(stream, "P", append(line, '\n'))
		default:
			if len(line) > 0 {
				// A last line without newline still ends the stream: record it
				// as full so readers do not wait for its continuation.
				l.write(stream, "F", append(line, '\n'))
			}
			return
		}
	}
}

func (l *criLog) write(stream, tag string, content []byte) {
	ts := l.now().UTC().Format(criTimeFormat)
	rec := make([]byte, 0, len(ts)+len(stream)+len(tag)+3+len(content))
	rec = append(rec, ts...)
	rec = append(rec, ' ')
	rec = append(rec, stream...)
	rec = append(rec, ' ')
	rec = append(rec, tag...)
	rec = append(rec, ' ')
	rec = append(rec, content...)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(rec)
}

func (l *criLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
