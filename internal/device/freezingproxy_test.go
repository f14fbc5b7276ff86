package device

import (
	"net"
	"sync"
	"testing"
)

// freezingProxy forwards TCP connections to a backend until freeze, after which the
// connections it already holds stay open but forward nothing. New connections still work.
type freezingProxy struct {
	listener net.Listener
	backend  string

	stopped chan struct{}

	mu     sync.Mutex
	frozen []chan struct{}
	conns  []net.Conn
}

func newFreezingProxy(t *testing.T, backend string) *freezingProxy {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	proxy := &freezingProxy{listener: listener, backend: backend, stopped: make(chan struct{})}
	go proxy.acceptLoop()
	t.Cleanup(proxy.close)
	return proxy
}

func (p *freezingProxy) port() int {
	return p.listener.Addr().(*net.TCPAddr).Port
}

func (p *freezingProxy) acceptLoop() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		backend, err := net.Dial("tcp", p.backend)
		if err != nil {
			client.Close()
			continue
		}
		frozen := make(chan struct{})
		p.mu.Lock()
		p.frozen = append(p.frozen, frozen)
		p.conns = append(p.conns, client, backend)
		p.mu.Unlock()
		go p.forward(client, backend, frozen)
		go p.forward(backend, client, frozen)
	}
}

// forward copies from source to destination until frozen is closed.
func (p *freezingProxy) forward(destination, source net.Conn, frozen chan struct{}) {
	buffer := make([]byte, 32<<10)
	for {
		n, err := source.Read(buffer)
		select {
		case <-frozen:
			// Hold the connection open without forwarding until the test ends.
			<-p.stopped
			return
		default:
		}
		if n > 0 {
			if _, err := destination.Write(buffer[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, frozen := range p.frozen {
		close(frozen)
	}
	p.frozen = nil
}

func (p *freezingProxy) close() {
	close(p.stopped)
	p.listener.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, conn := range p.conns {
		conn.Close()
	}
}
