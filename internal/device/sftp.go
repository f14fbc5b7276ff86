package device

import (
	"context"
	"fmt"

	"github.com/pkg/sftp"
)

// SFTP opens an SFTP session on the device, which takes one of the connection's session
// slots, and runs fn with it. The session closes when fn returns. Cancelling ctx closes the
// session, so that fn's pending operations fail.
func (c *Client) SFTP(ctx context.Context, fn func(*sftp.Client) error) error {
	session, release, err := c.conn.openSession(ctx)
	if err != nil {
		return err
	}
	defer release()
	defer session.Close()
	// Closing the session also ends every pending SFTP request with an error.
	stop := context.AfterFunc(ctx, func() { session.Close() })
	defer stop()

	stdin, err := session.StdinPipe()
	if err != nil {
		return fmt.Errorf("start SFTP on device %s: %w", c.target.ID(), err)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		return fmt.Errorf("start SFTP on device %s: %w", c.target.ID(), err)
	}
	if err := session.RequestSubsystem("sftp"); err != nil {
		return fmt.Errorf("start SFTP on device %s: %w; check that sshd_config has a Subsystem sftp line",
			c.target.ID(), err)
	}
	client, err := sftp.NewClientPipe(stdout, stdin)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("start SFTP on device %s: %w", c.target.ID(), err)
	}
	defer client.Close()

	err = fn(client)
	if ctx.Err() != nil {
		return fmt.Errorf("SFTP on device %s: %w", c.target.ID(), ctx.Err())
	}
	return err
}
